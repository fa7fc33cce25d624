# Reads the ifupdown (ENI) network file that Proxmox writes into ConfigDrive v2 drives
# (openstack/content/0000) and prints "path<TAB>value" lines for vars.awk: the first interface with
# a static IPv4 address (name, address, netmask, gateway) and the DNS servers and search domains.

$1 == "iface" {
	inside = 0
	if (!found && $3 == "inet" && $4 == "static") {
		found = 1
		inside = 1
		print "name\t" $2
	}
	next
}

$1 == "auto" || $1 == "allow-hotplug" || $1 == "mapping" || $1 == "source" {
	inside = 0
	next
}

inside && ($1 == "address" || $1 == "netmask" || $1 == "gateway") {
	print $1 "\t" $2
	next
}

$1 == "dns_nameservers" || $1 == "dns-nameservers" {
	for (i = 2; i <= NF; i++)
		print "dns." (ndns++) "\t" $i
	next
}

$1 == "dns_search" || $1 == "dns-search" {
	for (i = 2; i <= NF; i++)
		print "search." (nsearch++) "\t" $i
}
