/* Tests of common's schema validator, named formats and property strings, against Proxmox's messages. */
#include <cjson/cJSON.h>

#include "tests/unit/test.h"

static cJSON *J(const char *text)
{
	cJSON *v = cJSON_Parse(text);
	if (!v)
		test_fail(__FILE__, __LINE__, "bad test JSON: %s", text);
	return v;
}

static const char params_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":0,\"properties\":{"
	"\"node\":{\"type\":\"string\",\"format\":\"pve-node\"},"
	"\"vmid\":{\"type\":\"integer\",\"format\":\"pve-vmid\",\"minimum\":100,\"maximum\":999999999},"
	"\"cores\":{\"type\":\"integer\",\"optional\":1,\"minimum\":1,\"maximum\":128},"
	"\"cpulimit\":{\"type\":\"number\",\"optional\":1,\"minimum\":0,\"maximum\":128},"
	"\"onboot\":{\"type\":\"boolean\",\"optional\":1},"
	"\"name\":{\"type\":\"string\",\"optional\":1,\"minLength\":3,\"maxLength\":8},"
	"\"tag\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[a-z]\\\\d+\"},"
	"\"ostype\":{\"type\":\"string\",\"optional\":1,\"enum\":[\"l26\",\"win11\",\"other\"]},"
	"\"vms\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-vmid-list\"},"
	"\"list\":{\"type\":\"array\",\"optional\":1,\"items\":{\"type\":\"integer\"}},"
	"\"withdefault\":{\"type\":\"string\",\"default\":\"x\"},"
	"\"digest\":{\"type\":\"string\",\"optional\":1,\"maxLength\":64,\"requires\":\"name\"}"
	"}}";

static void test_validate_ok(void)
{
	cJSON *schema = J(params_schema);
	cJSON *p = J("{\"node\":\"pve1\",\"vmid\":\"100\",\"cores\":\"4\",\"cpulimit\":\"1.5\","
		     "\"onboot\":\"yes\",\"name\":\"web\",\"tag\":\"a12\",\"ostype\":\"l26\","
		     "\"vms\":\"100,101;102\",\"list\":\"7\"}");
	cJSON *errors = (cJSON *)1;
	check_int(pve_schema_validate_params(schema, p, &errors), 0);
	check(errors == NULL);
	const cJSON *v = cJSON_GetObjectItem(p, "vmid");
	check(cJSON_IsNumber(v) && v->valuedouble == 100);
	v = cJSON_GetObjectItem(p, "cores");
	check(cJSON_IsNumber(v) && v->valueint == 4);
	v = cJSON_GetObjectItem(p, "cpulimit");
	check(cJSON_IsNumber(v) && v->valuedouble == 1.5);
	v = cJSON_GetObjectItem(p, "onboot");
	check(cJSON_IsNumber(v) && v->valueint == 1);
	v = cJSON_GetObjectItem(p, "list");
	check(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 &&
	      cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) && cJSON_GetArrayItem(v, 0)->valueint == 7);
	check_streq(pve_json_str(p, "name"), "web");
	cJSON_Delete(p);

	/* JSON-typed values from a JSON body; null is an absent parameter. */
	p = J("{\"node\":\"pve1\",\"vmid\":100,\"onboot\":false,\"cpulimit\":2,\"list\":[1,\"2\"],"
	      "\"name\":null}");
	check_int(pve_schema_validate_params(schema, p, &errors), 0);
	v = cJSON_GetObjectItem(p, "onboot");
	check(cJSON_IsNumber(v) && v->valueint == 0);
	v = cJSON_GetObjectItem(p, "list");
	check(cJSON_IsNumber(cJSON_GetArrayItem(v, 1)) && cJSON_GetArrayItem(v, 1)->valueint == 2);
	check(cJSON_GetObjectItem(p, "name") == NULL);
	cJSON_Delete(p);
	cJSON_Delete(schema);
}

static void expect_error(cJSON *errors, const char *param, const char *msg)
{
	const char *got = pve_json_str(errors, param);
	if (!got || !streq(got, msg)) {
		_cleanup_free_ char *all = errors ? pve_json_print(errors) : xstrdup("(none)");
		test_fail(__FILE__, __LINE__, "%s: expected '%s', errors %s", param, msg, all);
	}
}

static void test_validate_errors(void)
{
	cJSON *schema = J(params_schema);
	cJSON *p =
		J("{\"vmid\":\"abc\",\"cores\":\"0\",\"cpulimit\":\"200\",\"onboot\":\"maybe\","
		  "\"name\":\"ab\",\"tag\":\"A1\",\"ostype\":\"x\",\"vms\":\"100,5\",\"foo\":\"1\","
		  "\"list\":[\"a\"],\"digest\":\"d\"}");
	cJSON *errors = NULL;
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	expect_error(errors, "node", "property is missing and it is not optional");
	expect_error(errors, "vmid", "type check ('integer') failed - got 'abc'");
	expect_error(errors, "cores", "value must have a minimum value of 1");
	expect_error(errors, "cpulimit", "value must have a maximum value of 128");
	expect_error(errors, "onboot", "type check ('boolean') failed - got 'maybe'");
	expect_error(errors, "name", "value must be at least 3 characters long");
	expect_error(errors, "tag", "value does not match the regex pattern");
	expect_error(errors, "ostype",
		     "value 'x' does not have a value in the enumeration 'l26, win11, other'");
	expect_error(errors, "vms", "invalid format - value does not look like a valid VM ID");
	expect_error(errors, "foo",
		     "property is not defined in schema and the schema does not "
		     "allow additional properties");
	expect_error(errors, "list[0]", "type check ('integer') failed - got 'a'");
	expect_error(errors, "name", "value must be at least 3 characters long");
	check(pve_json_str(errors, "withdefault") == NULL);
	cJSON_Delete(errors);
	cJSON_Delete(p);

	p = J("{\"node\":\"-bad\",\"vmid\":\"99\",\"name\":\"toolongname\",\"digest\":\"d\"}");
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	expect_error(errors, "node", "invalid format - value does not look like a valid node name");
	expect_error(errors, "vmid", "invalid format - value does not look like a valid VM ID");
	expect_error(errors, "name", "value may only be 8 characters long");
	cJSON_Delete(errors);
	cJSON_Delete(p);

	p = J("{\"node\":\"n\",\"vmid\":1000000000,\"digest\":\"d\"}");
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	expect_error(errors, "vmid", "invalid format - value does not look like a valid VM ID");
	expect_error(errors, "name", "missing property - 'digest' requires this property");
	cJSON_Delete(errors);
	cJSON_Delete(p);

	p = J("{\"node\":\"n\",\"vmid\":100.5,\"onboot\":2,\"name\":[1],\"cores\":true}");
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	expect_error(errors, "vmid", "type check ('integer') failed - got '100.5'");
	expect_error(errors, "onboot", "type check ('boolean') failed - got '2'");
	expect_error(errors, "name", "type check ('string') failed - got ARRAY");
	expect_error(errors, "cores", "type check ('integer') failed - got JSON::PP::Boolean");
	cJSON_Delete(errors);
	cJSON_Delete(p);

	/* Limits: more than 256 parameters; strings over 64 KiB. */
	p = cJSON_CreateObject();
	for (int i = 0; i < 300; i++) {
		char k[16];
		snprintf(k, sizeof(k), "p%d", i);
		cJSON_AddStringToObject(p, k, "1");
	}
	check_int(pve_schema_validate_params(schema, p, &errors), -E2BIG);
	cJSON_Delete(errors);
	cJSON_Delete(p);
	p = J("{\"node\":\"n\",\"vmid\":100}");
	char *big = xmalloc(70000);
	memset(big, 'a', 69999);
	big[69999] = '\0';
	cJSON_AddStringToObject(p, "tag", big);
	free(big);
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	expect_error(errors, "tag", "value may only be 65536 characters long");
	cJSON_Delete(errors);
	cJSON_Delete(p);

	/* Duplicate keys in a JSON body. */
	p = J("{\"node\":\"n\",\"vmid\":100,\"node\":\"m\"}");
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	expect_error(errors, "node", "duplicate parameter");
	cJSON_Delete(errors);
	cJSON_Delete(p);
	cJSON_Delete(schema);
}

static void test_check_value(void)
{
	cJSON *s = J("{\"type\":\"integer\",\"minimum\":100,\"maximum\":999}");
	cJSON *v = cJSON_CreateString("1000");
	char *msg = NULL;
	check_int(pve_schema_check_value(s, v, &msg), -EINVAL);
	check_streq(msg, "value must have a maximum value of 999");
	free(msg);
	cJSON_Delete(v);
	v = cJSON_CreateString("-5");
	msg = NULL;
	check_int(pve_schema_check_value(s, v, &msg), -EINVAL);
	check_streq(msg, "value must have a minimum value of 100");
	free(msg);
	cJSON_Delete(v);
	v = cJSON_CreateString("+500");
	check_int(pve_schema_check_value(s, v, NULL), 0);
	check(cJSON_IsNumber(v) && v->valuedouble == 500);
	cJSON_Delete(v);
	cJSON_Delete(s);

	/* Perl regex features translated for POSIX. */
	struct {
		const char *pattern, *value;
		bool ok;
	} pats[] = {
		{ "[a-z][a-z0-9\\-\\_\\.]*[a-z0-9]", "local-lvm.x_1", true },
		{ "[a-z][a-z0-9\\-\\_\\.]*[a-z0-9]", "local/x", false },
		{ "(?:[A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}",
		  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99",
		  true },
		{ "\\d+", "123", true },
		{ "\\d+", "12a", false },
		{ "\\S+", "a b", false },
		{ "[\\w\\s]+", "a b_c", true },
		{ "a.*?b", "axxb", true },
		{ "abc", "xabcx", false },
		{ "a|b", "ab", false },
		/* Perl's dialect, which POSIX ERE lacks: lookahead, \b, lazy and possessive quantifiers */
		{ "(?!root@pam)[^@]+@pam", "root@pam", false },
		{ "(?!root@pam)[^@]+@pam", "bob@pam", true },
		{ "\\bx\\b.*", "x y", true },
		{ "a++b", "aaab", true },
		/* a trailing newline, which Perl's $ would let through */
		{ "\\d+", "123\n", false },
		/* a top-level alternation is anchored as a whole (Proxmox's remove-vanished pattern) */
		{ "(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none", "acl;entry",
		  true },
		{ "(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none", "acljunk",
		  false },
		{ "(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none", "none", true },
		/* catastrophic backtracking gives up instead of spinning */
		{ "(a+)+b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false },
	};
	for (size_t i = 0; i < ELEMENTSOF(pats); i++) {
		cJSON *ps = cJSON_CreateObject();
		cJSON_AddStringToObject(ps, "type", "string");
		cJSON_AddStringToObject(ps, "pattern", pats[i].pattern);
		cJSON *pv = cJSON_CreateString(pats[i].value);
		int r = pve_schema_check_value(ps, pv, NULL);
		if ((r == 0) != pats[i].ok)
			test_fail(__FILE__, __LINE__, "pattern '%s' on '%s': %d", pats[i].pattern,
				  pats[i].value, r);
		cJSON_Delete(ps);
		cJSON_Delete(pv);
	}

	/* Length counts characters, not bytes. */
	s = J("{\"type\":\"string\",\"maxLength\":3}");
	v = cJSON_CreateString("\xc3\xa9\xc3\xa9\xc3\xa9");
	check_int(pve_schema_check_value(s, v, NULL), 0);
	cJSON_Delete(v);
	cJSON_Delete(s);

	/* A JSON number for a string parameter becomes its text. */
	s = J("{\"type\":\"string\"}");
	v = cJSON_CreateNumber(42);
	check_int(pve_schema_check_value(s, v, NULL), 0);
	check(cJSON_IsString(v) && streq(v->valuestring, "42"));
	cJSON_Delete(v);
	cJSON_Delete(s);
}

static void test_typetext(void)
{
	struct {
		const char *schema, *text;
	} t[] = {
		{ "{\"type\":\"integer\",\"minimum\":100,\"maximum\":999999999}",
		  "<integer> (100 - 999999999)" },
		{ "{\"type\":\"integer\",\"minimum\":1}", "<integer> (1 - N)" },
		{ "{\"type\":\"number\",\"maximum\":1.5}", "<number> (-N - 1.5)" },
		{ "{\"type\":\"integer\"}", "<integer>" },
		{ "{\"type\":\"string\"}", "<string>" },
		{ "{\"type\":\"boolean\"}", "<boolean>" },
		{ "{\"type\":\"string\",\"enum\":[\"c\",\"a\",\"b\"]}", "<a | b | c>" },
		{ "{\"type\":\"string\",\"format\":\"pve-node\"}", "<string>" },
		{ "{\"type\":\"string\",\"typetext\":\"<vmid>\"}", "<vmid>" },
		{ "{\"type\":\"string\",\"format_description\":\"XX:XX\"}", "<XX:XX>" },
		{ "{\"type\":\"string\",\"format\":{\"file\":{\"type\":\"string\",\"default_key\":1,"
		  "\"format_description\":\"volume\"},\"size\":{\"type\":\"string\",\"optional\":1,"
		  "\"format\":\"disk-size\",\"format_description\":\"DiskSize\"},\"ro\":{\"type\":"
		  "\"boolean\",\"optional\":1}}}",
		  "[file=]<volume> [,ro=<1|0>] [,size=<DiskSize>]" },
	};
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		cJSON *s = J(t[i].schema);
		_cleanup_free_ char *tt = pve_schema_typetext(s);
		check_streq(tt, t[i].text);
		cJSON_Delete(s);
	}
}

static void fmt_ok(const char *format, const char *value)
{
	_cleanup_free_ char *msg = NULL;
	int r = pve_format_check(format, value, &msg);
	if (r != 0)
		test_fail(__FILE__, __LINE__, "%s: '%s' refused (%d: %s)", format, value, r,
			  msg ? msg : "");
}

static void fmt_bad(const char *format, const char *value, const char *expect)
{
	_cleanup_free_ char *msg = NULL;
	int r = pve_format_check(format, value, &msg);
	if (r != -EINVAL)
		test_fail(__FILE__, __LINE__, "%s: '%s' accepted (%d)", format, value, r);
	else if (expect && !streq_ptr(msg, expect))
		test_fail(__FILE__, __LINE__, "%s: '%s': message '%s', expected '%s'", format,
			  value, msg ? msg : "(null)", expect);
}

static void test_formats(void)
{
	fmt_ok("pve-vmid", "100");
	fmt_ok("pve-vmid", "999999999");
	fmt_bad("pve-vmid", "99", "value does not look like a valid VM ID");
	fmt_bad("pve-vmid", "0100", NULL);
	fmt_bad("pve-vmid", "1000000000", NULL);
	fmt_ok("pve-node", "pve-1");
	fmt_ok("pve-node", "a");
	fmt_bad("pve-node", "pve-", "value does not look like a valid node name");
	fmt_bad("pve-node", "a.b", NULL);
	fmt_ok("pve-storage-id", "local-lvm");
	fmt_ok("pve-storage-id", "nfs.backup_1");
	fmt_bad("pve-storage-id", "1local", "storage ID '1local' contains illegal characters");
	fmt_bad("pve-storage-id", "local-", NULL);
	fmt_bad("pve-storage-id", "a", NULL);
	fmt_ok("pve-configid", "snap_1");
	fmt_bad("pve-configid", "1snap", "invalid configuration ID '1snap'");
	fmt_ok("pve-volume-id", "local:100/vm-100-disk-0.qcow2");
	fmt_ok("pve-volume-id", "local-lvm:vm-100-disk-0");
	fmt_ok("pve-volume-id", "local:iso/debian.iso");
	fmt_bad("pve-volume-id", "local:../../etc/shadow",
		"unable to parse volume ID 'local:../../etc/shadow'");
	fmt_bad("pve-volume-id", "local:iso/../x", NULL);
	fmt_bad("pve-volume-id", "local:/etc/passwd", NULL);
	fmt_bad("pve-volume-id", "local:", NULL);
	fmt_bad("pve-volume-id", "vm-100-disk-0", NULL);
	fmt_ok("pve-userid", "root@pam");
	fmt_ok("pve-userid", "john.doe@my-ldap");
	fmt_bad("pve-userid", "r@", "user name 'r@' is too short");
	fmt_bad("pve-userid", "root", "value 'root' does not look like a valid user name");
	fmt_bad("pve-userid", "a:b@pam", NULL);
	fmt_bad("pve-userid", "a b@pam", NULL);
	fmt_bad("pve-userid", "a/b@pam", NULL);
	fmt_bad("pve-userid", "root@1pam", NULL);
	fmt_ok("pve-realm", "pam");
	fmt_bad("pve-realm", "p", "value does not look like a valid realm");
	fmt_ok("pve-tokenid", "mytoken");
	fmt_ok("pve-tokenid", "root@pam!mytoken");
	fmt_bad("pve-tokenid", "1token", NULL);
	fmt_bad("pve-tokenid", "root!x", NULL);
	fmt_ok("pve-groupid", "admins");
	fmt_bad("pve-groupid", "a b", "group name 'a b' contains invalid characters");
	fmt_ok("pve-roleid", "PVEAdmin");
	fmt_ok("pve-poolid", "pool/sub");
	fmt_bad("pve-poolid", "a/b/c/d", NULL);
	fmt_ok("pve-priv", "VM.Config.Disk");
	fmt_bad("pve-priv", "vm.config", NULL);
	fmt_ok("pve-priv-list", "VM.Audit,Sys.Audit");
	fmt_ok("mac-addr", "BC:24:11:2C:69:EC");
	fmt_bad("mac-addr", "BD:24:11:2C:69:EC",
		"value does not look like a valid unicast MAC address");
	fmt_bad("mac-addr", "BC:24:11:2C:69", NULL);
	fmt_ok("ipv4", "192.168.1.1");
	fmt_bad("ipv4", "192.168.1.256", "value does not look like a valid IPv4 address");
	fmt_bad("ipv4", "01.2.3.4", NULL);
	fmt_ok("ipv6", "fe80::1");
	fmt_bad("ipv6", "fe80::1::2", NULL);
	fmt_ok("ip", "::1");
	fmt_ok("ip", "10.0.0.1");
	fmt_bad("ip", "host", "value does not look like a valid IP address");
	fmt_ok("CIDRv4", "10.0.0.0/8");
	fmt_bad("CIDRv4", "10.0.0.0/7", "value does not look like a valid IPv4 CIDR network");
	fmt_bad("CIDRv4", "10.0.0.0/33", NULL);
	fmt_ok("CIDRv6", "fd00::/64");
	fmt_ok("cidr", "fd00::/64");
	fmt_bad("cidr", "10.0.0.0", "value does not look like a valid CIDR network");
	fmt_ok("email", "a.b+c@example.com");
	fmt_bad("email", "a@", "value does not look like a valid email address");
	fmt_ok("dns-name", "pve.example.com");
	fmt_bad("dns-name", "-a.com", "value does not look like a valid DNS name");
	fmt_ok("disk-size", "32G");
	fmt_bad("disk-size", "32GB", "value does not look like a valid disk size: 32GB");
	fmt_ok("pve-upid", "UPID:pve:0035D677:03AB00C3:66DC5987:qmstart:100:root@pam:");
	fmt_bad("pve-upid", "UPID:x", "unable to parse worker upid 'UPID:x'");
	fmt_ok("urlencoded", "a%20b");
	fmt_bad("urlencoded", "a b", "invalid urlencoded string: a b");
	fmt_ok("pve-bridge", "vmbr0");
	fmt_bad("pve-bridge", "vmbr 0", NULL);
	fmt_ok("pve-tag", "prod");
	fmt_bad("pve-tag", "-x", "invalid characters in tag");
	fmt_ok("pve-vmid-list", "");
	fmt_ok("pve-vmid-list", "100 101;102,103");
	fmt_bad("pve-vmid-list", "100,abc", "value does not look like a valid VM ID");
	fmt_ok("pve-node-opt", "");
	fmt_bad("pve-node-opt", "-", NULL);
	fmt_ok("pve-startup-order", "order=1,up=30,down=60");
	fmt_ok("pve-vlan-id-or-range", "10-20");
	fmt_bad("pve-vlan-id-or-range", "20-10", NULL);
	check_int(pve_format_check("no-such-format", "x", NULL), -ENOENT);
	check_int(pve_format_check("no-such-list", "x", NULL), -ENOENT);
	check(pve_format_known("pve-vmid-list"));
	check(!pve_format_known("nope"));
}

/* Qemu's net format, abridged: model is the default key; virtio=MAC is an alias pair. */
static const char net_format[] =
	"{\"model\":{\"type\":\"string\",\"default_key\":1,\"enum\":[\"e1000\",\"virtio\",\"vmxnet3\"]},"
	"\"macaddr\":{\"type\":\"string\",\"format\":\"mac-addr\",\"optional\":1},"
	"\"virtio\":{\"alias\":\"macaddr\",\"keyAlias\":\"model\"},"
	"\"e1000\":{\"alias\":\"macaddr\",\"keyAlias\":\"model\"},"
	"\"bridge\":{\"type\":\"string\",\"format\":\"pve-bridge\",\"optional\":1},"
	"\"firewall\":{\"type\":\"boolean\",\"optional\":1},"
	"\"tag\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4094,\"optional\":1},"
	"\"rate\":{\"type\":\"number\",\"minimum\":0,\"optional\":1}}";

static const char disk_format[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"file\":{\"type\":\"string\",\"format\":\"pve-volume-id\",\"default_key\":1},"
	"\"size\":{\"type\":\"string\",\"format\":\"disk-size\",\"optional\":1},"
	"\"iothread\":{\"type\":\"boolean\",\"optional\":1},"
	"\"cache\":{\"type\":\"string\",\"enum\":[\"none\",\"writeback\"],\"optional\":1}}}";

static void test_propstr(void)
{
	cJSON *net = J(net_format);
	cJSON *obj = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_propstr_parse("virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1", net, &obj,
				    &err),
		  0);
	check_streq(pve_json_str(obj, "model"), "virtio");
	check_streq(pve_json_str(obj, "macaddr"), "BC:24:11:2C:69:EC");
	check_streq(pve_json_str(obj, "bridge"), "vmbr0");
	long long n = -1;
	check(pve_json_int(obj, "firewall", &n) && n == 1);
	check(cJSON_IsNumber(cJSON_GetObjectItem(obj, "firewall")));
	_cleanup_free_ char *s = pve_propstr_print(obj, net);
	check_streq(s, "virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1");
	cJSON_Delete(obj);

	check_int(pve_propstr_parse("e1000,tag=5,rate=1.5,firewall=off", net, &obj, &err), 0);
	check(pve_json_int(obj, "tag", &n) && n == 5);
	check(cJSON_GetObjectItem(obj, "rate")->valuedouble == 1.5);
	check(pve_json_int(obj, "firewall", &n) && n == 0);
	_cleanup_free_ char *s2 = pve_propstr_print(obj, net);
	check_streq(s2, "e1000,firewall=0,rate=1.5,tag=5");
	cJSON_Delete(obj);

	struct {
		const char *in, *msg, *param;
	} bad[] = {
		{ "virtio=BC:24:11:2C:69:EC,bridge=a,bridge=b",
		  "duplicate key in comma-separated list property: bridge", "bridge" },
		{ "virtio,foo=1", "invalid key in comma-separated list property: foo", "foo" },
		{ "bridge=vmbr0", "model: property is missing and it is not optional", "model" },
		{ "virtio,e1000", "duplicate key in comma-separated list property: model",
		  "model" },
		{ "virtio,tag=5000", "tag: value must have a maximum value of 4094", "tag" },
		{ "virtio,tag=x", "tag: type check ('integer') failed - got 'x'", "tag" },
		{ "virtio,firewall=2", "firewall: type check ('boolean') failed - got '2'",
		  "firewall" },
		{ "virtio,=x", "missing key in comma-separated list property", NULL },
		{ "virtio,bridge=", "missing key in comma-separated list property", NULL },
		{ "rtl8139",
		  "model: value 'rtl8139' does not have a value in the enumeration "
		  "'e1000, virtio, vmxnet3'",
		  "model" },
		{ "virtio=BC:24:11:2C:69:EC,e1000=BC:24:11:2C:69:ED",
		  "key alias 'model' is already defined", "model" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_error_freep(&err);
		obj = NULL;
		check_int(pve_propstr_parse(bad[i].in, net, &obj, &err), -EINVAL);
		check(obj == NULL);
		if (!err)
			continue;
		if (!streq(err->message, bad[i].msg))
			test_fail(__FILE__, __LINE__, "'%s': '%s', expected '%s'", bad[i].in,
				  err->message, bad[i].msg);
		check(streq_ptr(err->param, bad[i].param));
	}
	pve_error_freep(&err);

	cJSON *disk = J(disk_format);
	check_int(pve_propstr_parse("local:100/vm-100-disk-0.qcow2,size=32G,iothread=1", disk, &obj,
				    &err),
		  0);
	check_streq(pve_json_str(obj, "file"), "local:100/vm-100-disk-0.qcow2");
	/* disk sizes print in their canonical unit */
	cJSON_ReplaceItemInObject(obj, "size", cJSON_CreateNumber(4096.0 * 1024 * 1024));
	_cleanup_free_ char *s3 = pve_propstr_print(obj, disk);
	check_streq(s3, "local:100/vm-100-disk-0.qcow2,iothread=1,size=4G");
	cJSON_AddStringToObject(obj, "cache", "a,b");
	check(pve_propstr_print(obj, disk) == NULL);
	cJSON_DeleteItemFromObject(obj, "cache");
	cJSON_AddStringToObject(obj, "nosuch", "1");
	check(pve_propstr_print(obj, disk) == NULL);
	cJSON_Delete(obj);

	check_int(pve_propstr_parse("file=local:iso/x.iso,size=1024M", disk, &obj, &err), 0);
	_cleanup_free_ char *s4 = pve_propstr_print(obj, disk);
	check_streq(s4, "local:iso/x.iso,size=1G");
	cJSON_Delete(obj);

	check_int(pve_propstr_parse("local:../x", disk, &obj, &err), -EINVAL);
	check_streq(err ? err->message : NULL,
		    "file: invalid format - unable to parse volume ID 'local:../x'");
	pve_error_freep(&err);

	/* As an API parameter: the message Proxmox gives, with the parameter's path. */
	cJSON *schema = cJSON_CreateObject();
	cJSON *props = cJSON_AddObjectToObject(schema, "properties");
	cJSON *net0 = cJSON_AddObjectToObject(props, "net0");
	cJSON_AddStringToObject(net0, "type", "string");
	cJSON_AddItemToObject(net0, "format", cJSON_Duplicate(net, true));
	cJSON *p = J("{\"net0\":\"virtio,tag=0\"}");
	cJSON *errors = NULL;
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	check_streq(
		pve_json_str(errors, "net0"),
		"invalid format - format error\nnet0.tag: value must have a minimum value of 1");
	cJSON_Delete(errors);
	cJSON_Delete(p);
	p = J("{\"net0\":\"virtio=BC:24:11:2C:69:EC,bridge=vmbr0\"}");
	check_int(pve_schema_validate_params(schema, p, &errors), 0);
	check_streq(pve_json_str(p, "net0"), "virtio=BC:24:11:2C:69:EC,bridge=vmbr0");
	cJSON_Delete(p);
	cJSON_Delete(schema);

	cJSON_Delete(disk);
	cJSON_Delete(net);
}

/* Indexed families as Proxmox's API viewer folds them: "net[n]" with a count stands for net0 .. netN-1. */
static void test_families(void)
{
	cJSON *schema = J("{\"type\":\"object\",\"additionalProperties\":0,\"properties\":{"
			  "\"net[n]\":{\"type\":\"string\",\"optional\":1,\"count\":32,"
			  "\"format\":{\"bridge\":{\"type\":\"string\",\"default_key\":1}}},"
			  "\"unused[n]\":{\"type\":\"integer\",\"optional\":1,\"count\":256},"
			  "\"name\":{\"type\":\"string\",\"optional\":1}}}");
	const cJSON *props = cJSON_GetObjectItem(schema, "properties");
	check(pve_schema_property(props, "net0") == cJSON_GetObjectItem(props, "net[n]"));
	check(pve_schema_property(props, "net31") != NULL);
	check(pve_schema_property(props, "net32") == NULL);
	check(pve_schema_property(props, "net01") == NULL);
	check(pve_schema_property(props, "net") == NULL);
	check(pve_schema_property(props, "net[n]") == NULL);
	check(pve_schema_property(props, "unused255") != NULL);
	check(pve_schema_property(props, "name") != NULL);

	cJSON *errors = NULL;
	cJSON *p = J("{\"net0\":\"vmbr0\",\"net31\":\"vmbr1\",\"unused7\":\"3\",\"net2\":null}");
	check_int(pve_schema_validate_params(schema, p, &errors), 0);
	check(cJSON_IsNumber(cJSON_GetObjectItem(p, "unused7")));
	check(!cJSON_GetObjectItem(p, "net2"));
	cJSON_Delete(p);

	p = J("{\"net32\":\"vmbr0\",\"net[n]\":\"x\",\"unused1\":\"a\",\"net1\":\"bridge=a,x=1\"}");
	check_int(pve_schema_validate_params(schema, p, &errors), -EINVAL);
	check_streq(pve_json_str(errors, "net32"),
		    "property is not defined in schema and the schema does not allow additional "
		    "properties");
	check(pve_json_str(errors, "net[n]") != NULL);
	check_streq(pve_json_str(errors, "unused1"), "type check ('integer') failed - got 'a'");
	check(pve_json_str(errors, "net1") != NULL);
	cJSON_Delete(errors);
	cJSON_Delete(p);
	cJSON_Delete(schema);
}

TEST_MAIN(TEST(test_validate_ok), TEST(test_families), TEST(test_validate_errors),
	  TEST(test_check_value), TEST(test_typetext), TEST(test_formats), TEST(test_propstr))
