/* Names the .fw files use: Proxmox's macros (pve-firewall's $pve_fw_macros, from shorewall), protocol
 * names, ICMP and ICMPv6 type names, service names for ports. Tables in the binary, so a compile reads
 * no /etc file and gives the same ruleset on every node. */
#include <strings.h>

#include "fw/fw.h"

static const pve_fw_macro_rule m_Amanda[] = {
	{ "udp", "10080", NULL },
	{ "tcp", "10080", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Auth[] = {
	{ "tcp", "113", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_BGP[] = {
	{ "tcp", "179", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_BitTorrent[] = {
	{ "tcp", "6881:6889", NULL },
	{ "udp", "6881", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_BitTorrent32[] = {
	{ "tcp", "6881:6999", NULL },
	{ "udp", "6881", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Ceph[] = {
	{ "tcp", "6789", NULL },
	{ "tcp", "3300", NULL },
	{ "tcp", "6800:7300", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Citrix[] = {
	{ "tcp", "1494", NULL },
	{ "udp", "1604", NULL },
	{ "tcp", "2598", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_CVS[] = {
	{ "tcp", "2401", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_DAAP[] = {
	{ "tcp", "3689", NULL },
	{ "udp", "3689", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_DCC[] = {
	{ "tcp", "6277", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_DHCPfwd[] = {
	{ "udp", "67:68", "67:68" },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Distcc[] = {
	{ "tcp", "3632", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_DNS[] = {
	{ "udp", "53", NULL },
	{ "tcp", "53", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Finger[] = {
	{ "tcp", "79", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_FTP[] = {
	{ "tcp", "21", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Git[] = {
	{ "tcp", "9418", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_GNUnet[] = {
	{ "tcp", "2086", NULL }, { "udp", "2086", NULL }, { "tcp", "1080", NULL },
	{ "udp", "1080", NULL }, { NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_GRE[] = {
	{ "47", NULL, NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_HKP[] = {
	{ "tcp", "11371", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_HTTP[] = {
	{ "tcp", "80", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_HTTPS[] = {
	{ "tcp", "443", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_ICPV2[] = {
	{ "udp", "3130", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_ICQ[] = {
	{ "tcp", "5190", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_IMAP[] = {
	{ "tcp", "143", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_IMAPS[] = {
	{ "tcp", "993", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_IPIP[] = {
	{ "94", NULL, NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_IPsec[] = {
	{ "udp", "500", "500" },
	{ "50", NULL, NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_IPsecah[] = {
	{ "udp", "500", "500" },
	{ "51", NULL, NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_IPsecnat[] = {
	{ "udp", "500", NULL },
	{ "udp", "4500", NULL },
	{ "50", NULL, NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_IRC[] = {
	{ "tcp", "6667", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Jetdirect[] = {
	{ "tcp", "9100", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_L2TP[] = {
	{ "udp", "1701", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_LDAP[] = {
	{ "tcp", "389", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_LDAPS[] = {
	{ "tcp", "636", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Mail[] = {
	{ "tcp", "25", NULL },
	{ "tcp", "465", NULL },
	{ "tcp", "587", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_MDNS[] = {
	{ "udp", "5353", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_MSNP[] = {
	{ "tcp", "1863", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_MSSQL[] = {
	{ "tcp", "1433", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Munin[] = {
	{ "tcp", "4949", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_MySQL[] = {
	{ "tcp", "3306", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_NNTP[] = {
	{ "tcp", "119", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_NNTPS[] = {
	{ "tcp", "563", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_NTP[] = {
	{ "udp", "123", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_OpenVPN[] = {
	{ "udp", "1194", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_OSPF[] = {
	{ "89", NULL, NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_PCA[] = {
	{ "udp", "5632", NULL },
	{ "tcp", "5631", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Ping[] = {
	{ "icmp", "echo-request", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Ping_v6[] = {
	{ "icmpv6", "echo-request", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_PMG[] = {
	{ "tcp", "8006", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_POP3[] = {
	{ "tcp", "110", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_POP3S[] = {
	{ "tcp", "995", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_PostgreSQL[] = {
	{ "tcp", "5432", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_PPtP[] = {
	{ "47", NULL, NULL },
	{ "tcp", "1723", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Printer[] = {
	{ "tcp", "515", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Razor[] = {
	{ "tcp", "2703", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Rdate[] = {
	{ "tcp", "37", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_RDP[] = {
	{ "tcp", "3389", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_RIP[] = {
	{ "udp", "520", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_RNDC[] = {
	{ "tcp", "953", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Rsync[] = {
	{ "tcp", "873", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SANE[] = {
	{ "tcp", "6566", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SixXS[] = {
	{ "tcp", "3874", NULL },      { "udp", "3740", NULL }, { "41", NULL, NULL },
	{ "udp", "5072,8374", NULL }, { NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SMB[] = {
	{ "udp", "135,445", NULL },	{ "udp", "137:139", NULL }, { "udp", "1024:65535", "137" },
	{ "tcp", "135,139,445", NULL }, { NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SMBswat[] = {
	{ "tcp", "901", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SMTP[] = {
	{ "tcp", "25", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SMTPS[] = {
	{ "tcp", "465", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SNMP[] = {
	{ "udp", "161:162", NULL },
	{ "tcp", "161", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SPAMD[] = {
	{ "tcp", "783", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SPICEproxy[] = {
	{ "tcp", "3128", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Squid[] = {
	{ "tcp", "3128", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SSH[] = {
	{ "tcp", "22", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Submission[] = {
	{ "tcp", "587", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_SVN[] = {
	{ "tcp", "3690", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Syslog[] = {
	{ "udp", "514", NULL },
	{ "tcp", "514", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Telnet[] = {
	{ "tcp", "23", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Telnets[] = {
	{ "tcp", "992", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_TFTP[] = {
	{ "udp", "69", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Time[] = {
	{ "tcp", "37", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Trcrt[] = {
	{ "udp", "33434:33524", NULL },
	{ "icmp", "echo-request", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Trcrt_v6[] = {
	{ "udp", "33434:33524", NULL },
	{ "icmpv6", "echo-request", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_VNC[] = {
	{ "tcp", "5900:5999", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_VNCL[] = {
	{ "tcp", "5500", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Web[] = {
	{ "tcp", "80", NULL },
	{ "tcp", "443", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Webcache[] = {
	{ "tcp", "8080", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Webmin[] = {
	{ "tcp", "10000", NULL },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_Whois[] = {
	{ "tcp", "43", NULL },
	{ NULL, NULL, NULL },
};

static const pve_fw_macro_rule m_DHCPv6_v6[] = {
	{ "udp", "546:547", "546:547" },
	{ NULL, NULL, NULL },
};
static const pve_fw_macro_rule m_NeighborDiscovery_v6[] = {
	{ "icmpv6", "router-solicitation", NULL },
	{ "icmpv6", "router-advertisement", NULL },
	{ "icmpv6", "neighbor-solicitation", NULL },
	{ "icmpv6", "neighbor-advertisement", NULL },
	{ NULL, NULL, NULL },
};

static const pve_fw_macro macros[] = {
	{ "Amanda", "Amanda Backup", m_Amanda, NULL, false },
	{ "Auth", "Auth (identd) traffic", m_Auth, NULL, false },
	{ "BGP", "Border Gateway Protocol traffic", m_BGP, NULL, false },
	{ "BitTorrent", "BitTorrent traffic for BitTorrent 3.1 and earlier", m_BitTorrent, NULL,
	  false },
	{ "BitTorrent32", "BitTorrent traffic for BitTorrent 3.2 and later", m_BitTorrent32, NULL,
	  false },
	{ "Ceph", "Ceph Storage Cluster traffic (Ceph Monitors, OSD & MDS Daemons)", m_Ceph, NULL,
	  false },
	{ "Citrix", "Citrix/ICA traffic (ICA, ICA Browser, CGP)", m_Citrix, NULL, false },
	{ "CVS", "Concurrent Versions System pserver traffic", m_CVS, NULL, false },
	{ "DAAP", "Digital Audio Access Protocol traffic (iTunes, Rythmbox daemons)", m_DAAP, NULL,
	  false },
	{ "DCC", "Distributed Checksum Clearinghouse spam filtering mechanism", m_DCC, NULL,
	  false },
	{ "DHCPfwd", "Forwarded DHCP traffic", m_DHCPfwd, NULL, false },
	{ "DHCPv6", "DHCPv6 traffic", m_DHCPv6_v6, m_DHCPv6_v6, true },
	{ "Distcc", "Distributed Compiler service", m_Distcc, NULL, false },
	{ "DNS", "Domain Name System traffic (upd and tcp)", m_DNS, NULL, false },
	{ "Finger", "Finger protocol (RFC 742)", m_Finger, NULL, false },
	{ "FTP", "File Transfer Protocol", m_FTP, NULL, false },
	{ "Git", "Git distributed revision control traffic", m_Git, NULL, false },
	{ "GNUnet", "GNUnet secure peer-to-peer networking traffic", m_GNUnet, NULL, false },
	{ "GRE", "Generic Routing Encapsulation tunneling protocol", m_GRE, NULL, false },
	{ "HKP", "OpenPGP HTTP key server protocol traffic", m_HKP, NULL, false },
	{ "HTTP", "Hypertext Transfer Protocol (WWW)", m_HTTP, NULL, false },
	{ "HTTPS", "Hypertext Transfer Protocol (WWW) over SSL", m_HTTPS, NULL, false },
	{ "ICPV2", "Internet Cache Protocol V2 (Squid) traffic", m_ICPV2, NULL, false },
	{ "ICQ", "AOL Instant Messenger traffic", m_ICQ, NULL, false },
	{ "IMAP", "Internet Message Access Protocol", m_IMAP, NULL, false },
	{ "IMAPS", "Internet Message Access Protocol over SSL", m_IMAPS, NULL, false },
	{ "IPIP", "IPIP capsulation traffic", m_IPIP, NULL, false },
	{ "IPsec", "IPsec traffic", m_IPsec, NULL, false },
	{ "IPsecah", "IPsec authentication (AH) traffic", m_IPsecah, NULL, false },
	{ "IPsecnat", "IPsec traffic and Nat-Traversal", m_IPsecnat, NULL, false },
	{ "IRC", "Internet Relay Chat traffic", m_IRC, NULL, false },
	{ "Jetdirect", "HP Jetdirect printing", m_Jetdirect, NULL, false },
	{ "L2TP", "Layer 2 Tunneling Protocol traffic", m_L2TP, NULL, false },
	{ "LDAP", "Lightweight Directory Access Protocol traffic", m_LDAP, NULL, false },
	{ "LDAPS", "Secure Lightweight Directory Access Protocol traffic", m_LDAPS, NULL, false },
	{ "Mail", "Mail traffic (SMTP, SMTPS, Submission)", m_Mail, NULL, false },
	{ "MDNS", "Multicast DNS", m_MDNS, NULL, false },
	{ "MSNP", "Microsoft Notification Protocol", m_MSNP, NULL, false },
	{ "MSSQL", "Microsoft SQL Server", m_MSSQL, NULL, false },
	{ "Munin", "Munin networked resource monitoring traffic", m_Munin, NULL, false },
	{ "MySQL", "MySQL server", m_MySQL, NULL, false },
	{ "NeighborDiscovery", "IPv6 neighbor solicitation, neighbor and router advertisement",
	  m_NeighborDiscovery_v6, m_NeighborDiscovery_v6, true },
	{ "NNTP", "NNTP traffic (Usenet).", m_NNTP, NULL, false },
	{ "NNTPS", "Encrypted NNTP traffic (Usenet)", m_NNTPS, NULL, false },
	{ "NTP", "Network Time Protocol (ntpd)", m_NTP, NULL, false },
	{ "OpenVPN", "OpenVPN traffic", m_OpenVPN, NULL, false },
	{ "OSPF", "OSPF multicast traffic", m_OSPF, NULL, false },
	{ "PCA", "Symantec PCAnywere (tm)", m_PCA, NULL, false },
	{ "Ping", "ICMP echo request", m_Ping, m_Ping_v6, false },
	{ "PMG", "Proxmox Mail Gateway web interface", m_PMG, NULL, false },
	{ "POP3", "POP3 traffic", m_POP3, NULL, false },
	{ "POP3S", "Encrypted POP3 traffic", m_POP3S, NULL, false },
	{ "PostgreSQL", "PostgreSQL server", m_PostgreSQL, NULL, false },
	{ "PPtP", "Point-to-Point Tunneling Protocol", m_PPtP, NULL, false },
	{ "Printer", "Line Printer protocol printing", m_Printer, NULL, false },
	{ "Razor", "Razor Antispam System", m_Razor, NULL, false },
	{ "Rdate", "Remote time retrieval (rdate)", m_Rdate, NULL, false },
	{ "RDP", "Microsoft Remote Desktop Protocol traffic", m_RDP, NULL, false },
	{ "RIP", "Routing Information Protocol (bidirectional)", m_RIP, NULL, false },
	{ "RNDC", "BIND remote management protocol", m_RNDC, NULL, false },
	{ "Rsync", "Rsync server", m_Rsync, NULL, false },
	{ "SANE", "SANE network scanning", m_SANE, NULL, false },
	{ "SixXS", "SixXS IPv6 Deployment and Tunnel Broker", m_SixXS, NULL, false },
	{ "SMB", "Microsoft SMB traffic", m_SMB, NULL, false },
	{ "SMBswat", "Samba Web Administration Tool", m_SMBswat, NULL, false },
	{ "SMTP", "Simple Mail Transfer Protocol", m_SMTP, NULL, false },
	{ "SMTPS", "Encrypted Simple Mail Transfer Protocol", m_SMTPS, NULL, false },
	{ "SNMP", "Simple Network Management Protocol", m_SNMP, NULL, false },
	{ "SPAMD", "Spam Assassin SPAMD traffic", m_SPAMD, NULL, false },
	{ "SPICEproxy", "Proxmox VE SPICE display proxy traffic", m_SPICEproxy, NULL, false },
	{ "Squid", "Squid web proxy traffic", m_Squid, NULL, false },
	{ "SSH", "Secure shell traffic", m_SSH, NULL, false },
	{ "Submission", "Mail message submission traffic", m_Submission, NULL, false },
	{ "SVN", "Subversion server (svnserve)", m_SVN, NULL, false },
	{ "Syslog", "Syslog protocol (RFC 5424) traffic", m_Syslog, NULL, false },
	{ "Telnet", "Telnet traffic", m_Telnet, NULL, false },
	{ "Telnets", "Telnet over SSL", m_Telnets, NULL, false },
	{ "TFTP", "Trivial File Transfer Protocol traffic", m_TFTP, NULL, false },
	{ "Time", "RFC 868 Time protocol", m_Time, NULL, false },
	{ "Trcrt", "Traceroute (for up to 30 hops) traffic", m_Trcrt, m_Trcrt_v6, false },
	{ "VNC", "VNC traffic for VNC display's 0 - 99", m_VNC, NULL, false },
	{ "VNCL", "VNC traffic from Vncservers to Vncviewers in listen mode", m_VNCL, NULL, false },
	{ "Web", "WWW traffic (HTTP and HTTPS)", m_Web, NULL, false },
	{ "Webcache", "Web Cache/Proxy traffic (port 8080)", m_Webcache, NULL, false },
	{ "Webmin", "Webmin traffic", m_Webmin, NULL, false },
	{ "Whois", "Whois (nicname, RFC 3912) traffic", m_Whois, NULL, false },
};

const pve_fw_macro *pve_fw_macro_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(macros); i++)
		if (strcasecmp(macros[i].name, name) == 0)
			return &macros[i];
	return NULL;
}

const pve_fw_macro *pve_fw_macros(size_t *ret_n)
{
	*ret_n = ELEMENTSOF(macros);
	return macros;
}

/* /etc/protocols' names Proxmox users write; a number 0-255 is taken as it is. */
static const struct {
	const char *name;
	int number;
} protocols[] = {
	{ "ip", 0 },	      { "icmp", 1 },	     { "igmp", 2 },
	{ "ggp", 3 },	      { "ipencap", 4 },	     { "st", 5 },
	{ "tcp", 6 },	      { "egp", 8 },	     { "igp", 9 },
	{ "pup", 12 },	      { "udp", 17 },	     { "hmp", 20 },
	{ "xns-idp", 22 },    { "rdp", 27 },	     { "iso-tp4", 29 },
	{ "dccp", 33 },	      { "xtp", 36 },	     { "ddp", 37 },
	{ "idpr-cmtp", 38 },  { "ipv6", 41 },	     { "ipv6-route", 43 },
	{ "ipv6-frag", 44 },  { "idrp", 45 },	     { "rsvp", 46 },
	{ "gre", 47 },	      { "esp", 50 },	     { "ah", 51 },
	{ "skip", 57 },	      { "ipv6-icmp", 58 },   { "icmpv6", 58 },
	{ "ipv6-nonxt", 59 }, { "ipv6-opts", 60 },   { "rspf", 73 },
	{ "vmtp", 81 },	      { "eigrp", 88 },	     { "ospf", 89 },
	{ "ax.25", 93 },      { "ipip", 94 },	     { "etherip", 97 },
	{ "encap", 98 },      { "pim", 103 },	     { "ipcomp", 108 },
	{ "vrrp", 112 },      { "l2tp", 115 },	     { "isis", 124 },
	{ "sctp", 132 },      { "fc", 133 },	     { "mobility-header", 135 },
	{ "udplite", 136 },   { "mpls-in-ip", 137 }, { "manet", 138 },
	{ "hip", 139 },	      { "shim6", 140 },	     { "wesp", 141 },
	{ "rohc", 142 },      { "ethernet", 143 },
};

int pve_fw_proto_number(const char *name)
{
	unsigned long long n;
	if (pve_parse_uint(name, 255, &n) == 0)
		return (int)n;
	for (size_t i = 0; i < ELEMENTSOF(protocols); i++)
		if (streq(protocols[i].name, name))
			return protocols[i].number;
	return -1;
}

/* iptables' ICMP names with type and code (code -1: any). */
static const struct {
	const char *name;
	int type, code;
} icmp_types[] = {
	{ "any", -1, -1 },
	{ "echo-reply", 0, -1 },
	{ "destination-unreachable", 3, -1 },
	{ "network-unreachable", 3, 0 },
	{ "host-unreachable", 3, 1 },
	{ "protocol-unreachable", 3, 2 },
	{ "port-unreachable", 3, 3 },
	{ "fragmentation-needed", 3, 4 },
	{ "source-route-failed", 3, 5 },
	{ "network-unknown", 3, 6 },
	{ "host-unknown", 3, 7 },
	{ "network-prohibited", 3, 9 },
	{ "host-prohibited", 3, 10 },
	{ "TOS-network-unreachable", 3, 11 },
	{ "TOS-host-unreachable", 3, 12 },
	{ "communication-prohibited", 3, 13 },
	{ "host-precedence-violation", 3, 14 },
	{ "precedence-cutoff", 3, 15 },
	{ "source-quench", 4, -1 },
	{ "redirect", 5, -1 },
	{ "network-redirect", 5, 0 },
	{ "host-redirect", 5, 1 },
	{ "TOS-network-redirect", 5, 2 },
	{ "TOS-host-redirect", 5, 3 },
	{ "echo-request", 8, -1 },
	{ "router-advertisement", 9, -1 },
	{ "router-solicitation", 10, -1 },
	{ "time-exceeded", 11, -1 },
	{ "ttl-zero-during-transit", 11, 0 },
	{ "ttl-zero-during-reassembly", 11, 1 },
	{ "parameter-problem", 12, -1 },
	{ "ip-header-bad", 12, 0 },
	{ "required-option-missing", 12, 1 },
	{ "timestamp-request", 13, -1 },
	{ "timestamp-reply", 14, -1 },
	{ "address-mask-request", 17, -1 },
	{ "address-mask-reply", 18, -1 },
};

static const struct {
	const char *name;
	int type, code;
} icmpv6_types[] = {
	{ "destination-unreachable", 1, -1 },
	{ "no-route", 1, 0 },
	{ "communication-prohibited", 1, 1 },
	{ "beyond-scope", 1, 2 },
	{ "address-unreachable", 1, 3 },
	{ "port-unreachable", 1, 4 },
	{ "failed-policy", 1, 5 },
	{ "reject-route", 1, 6 },
	{ "packet-too-big", 2, -1 },
	{ "time-exceeded", 3, -1 },
	{ "ttl-zero-during-transit", 3, 0 },
	{ "ttl-zero-during-reassembly", 3, 1 },
	{ "parameter-problem", 4, -1 },
	{ "bad-header", 4, 0 },
	{ "unknown-header-type", 4, 1 },
	{ "unknown-option", 4, 2 },
	{ "echo-request", 128, -1 },
	{ "echo-reply", 129, -1 },
	{ "router-solicitation", 133, -1 },
	{ "router-advertisement", 134, -1 },
	{ "neighbor-solicitation", 135, -1 },
	{ "neighbour-solicitation", 135, -1 },
	{ "neighbor-advertisement", 136, -1 },
	{ "neighbour-advertisement", 136, -1 },
	{ "redirect", 137, -1 },
};

int pve_fw_icmp_type(const char *name, bool v6, int *ret_code)
{
	unsigned long long n;
	if (pve_parse_uint(name, 255, &n) == 0) {
		if (ret_code)
			*ret_code = -1;
		return (int)n;
	}
	if (v6) {
		for (size_t i = 0; i < ELEMENTSOF(icmpv6_types); i++)
			if (streq(icmpv6_types[i].name, name)) {
				if (ret_code)
					*ret_code = icmpv6_types[i].code;
				return icmpv6_types[i].type;
			}
	} else {
		for (size_t i = 0; i < ELEMENTSOF(icmp_types); i++)
			if (streq(icmp_types[i].name, name)) {
				if (ret_code)
					*ret_code = icmp_types[i].code;
				/* "any" is every type: -2 tells it from "unknown". */
				return icmp_types[i].type < 0 ? -2 : icmp_types[i].type;
			}
	}
	return -1;
}

/* /etc/services' names for the ports of the macros and what users write most. */
static const struct {
	const char *name;
	int port;
} services[] = {
	{ "ftp-data", 20 },    { "ftp", 21 },		{ "ssh", 22 },
	{ "telnet", 23 },      { "smtp", 25 },		{ "time", 37 },
	{ "whois", 43 },       { "domain", 53 },	{ "bootps", 67 },
	{ "bootpc", 68 },      { "tftp", 69 },		{ "gopher", 70 },
	{ "finger", 79 },      { "http", 80 },		{ "kerberos", 88 },
	{ "pop3", 110 },       { "sunrpc", 111 },	{ "auth", 113 },
	{ "nntp", 119 },       { "ntp", 123 },		{ "epmap", 135 },
	{ "netbios-ns", 137 }, { "netbios-dgm", 138 },	{ "netbios-ssn", 139 },
	{ "imap2", 143 },      { "snmp", 161 },		{ "snmp-trap", 162 },
	{ "bgp", 179 },	       { "irc", 194 },		{ "ldap", 389 },
	{ "https", 443 },      { "microsoft-ds", 445 }, { "submissions", 465 },
	{ "isakmp", 500 },     { "syslog", 514 },	{ "printer", 515 },
	{ "submission", 587 }, { "ldaps", 636 },	{ "rsync", 873 },
	{ "imaps", 993 },      { "pop3s", 995 },	{ "openvpn", 1194 },
	{ "ms-sql-s", 1433 },  { "l2tp", 1701 },	{ "pptp", 1723 },
	{ "nfs", 2049 },       { "mysql", 3306 },	{ "ms-wbt-server", 3389 },
	{ "svn", 3690 },       { "postgresql", 5432 },	{ "x11", 6000 },
	{ "http-alt", 8080 },
};

int pve_fw_service_port(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(services); i++)
		if (streq(services[i].name, name))
			return services[i].port;
	return -1;
}
