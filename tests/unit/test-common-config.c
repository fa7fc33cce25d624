/* Tests of common's config files (guest configs) and section configs (storage.cfg, domains.cfg). */
#include "tests/unit/test.h"

static const char vm_conf[] = "#My web server\n"
			      "#second line with %25 percent\n"
			      "boot: order=scsi0;ide2;net0\n"
			      "cores: 2\n"
			      "memory: 4096\n"
			      "net0: virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1\n"
			      "ostype: l26\n"
			      "parent: snap1\n"
			      "scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G\n"
			      "\n"
			      "[PENDING]\n"
			      "delete: cores\n"
			      "memory: 8192\n"
			      "\n"
			      "[snap1]\n"
			      "#snapshot description\n"
			      "cores: 1\n"
			      "memory: 2048\n"
			      "snaptime: 1737549549\n"
			      "vmstate: local-lvm:vm-100-state-snap1\n"
			      "\n"
			      "[special:cloudinit]\n"
			      "ipconfig0: ip=dhcp,ip6=dhcp\n";

static pve_config *parse_ok(const char *text)
{
	_cleanup_error_ pve_error *err = NULL;
	pve_config *c = NULL;
	int r = pve_config_parse(text, strlen(text), &c, &err);
	if (r < 0)
		test_fail(__FILE__, __LINE__, "parse failed: %s", err ? err->message : "?");
	return c;
}

static void test_config_roundtrip(void)
{
	_cleanup_config_ pve_config *c = parse_ok(vm_conf);
	if (!c)
		return;
	_cleanup_free_ char *out = pve_config_print(c);
	check_streq(out, vm_conf);

	check_streq(pve_config_get(c, NULL, "cores"), "2");
	check_streq(pve_config_get(c, "", "memory"), "4096");
	check_streq(pve_config_get(c, "PENDING", "memory"), "8192");
	check_streq(pve_config_get(c, "snap1", "snaptime"), "1737549549");
	check_streq(pve_config_get(c, "special:cloudinit", "ipconfig0"), "ip=dhcp,ip6=dhcp");
	check(pve_config_get(c, NULL, "snaptime") == NULL);
	check(pve_config_get(c, "nosuch", "cores") == NULL);

	_cleanup_strv_free_ char **secs = pve_config_sections(c);
	check_int(strv_length(secs), 3);
	check_streq(secs[0], "PENDING");
	check_streq(secs[1], "snap1");
	check_streq(secs[2], "special:cloudinit");

	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	check_int(strv_length(keys), 7);
	check_streq(keys[0], "boot");
	check_streq(keys[6], "scsi0");

	_cleanup_free_ char *d = pve_config_get_description(c, NULL);
	check_streq(d, "My web server\nsecond line with % percent");
	_cleanup_free_ char *d2 = pve_config_get_description(c, "snap1");
	check_streq(d2, "snapshot description");
	check(pve_config_get_description(c, "PENDING") == NULL);
}

static void test_config_edit(void)
{
	_cleanup_config_ pve_config *c = parse_ok(vm_conf);
	if (!c)
		return;
	/* Changing one key changes only its line. */
	check_int(pve_config_set(c, NULL, "memory", "2048"), 0);
	_cleanup_free_ char *out = pve_config_print(c);
	char *expect = xstrdup(vm_conf);
	char *p = strstr(expect, "memory: 4096");
	memcpy(p, "memory: 2048", 12);
	check_streq(out, expect);
	free(expect);

	/* A new key goes to the end of its section, before the blank line. */
	check_int(pve_config_set(c, "PENDING", "name", "web"), 0);
	_cleanup_free_ char *out2 = pve_config_print(c);
	check(strstr(out2, "memory: 8192\nname: web\n\n[snap1]\n") != NULL);

	check(pve_config_delete(c, "PENDING", "delete"));
	check(!pve_config_delete(c, "PENDING", "delete"));
	check(pve_config_get(c, "PENDING", "delete") == NULL);

	/* Removing the last section takes its separating blank line along. */
	check(pve_config_delete_section(c, "special:cloudinit"));
	check(!pve_config_delete_section(c, "special:cloudinit"));
	check(!pve_config_delete_section(c, NULL));
	_cleanup_free_ char *out3 = pve_config_print(c);
	check(endswith(out3, "vmstate: local-lvm:vm-100-state-snap1\n"));

	/* A new section gets a blank line before its header. */
	check_int(pve_config_set(c, "snap2", "cores", "4"), 0);
	_cleanup_free_ char *out4 = pve_config_print(c);
	check(endswith(out4, "vmstate: local-lvm:vm-100-state-snap1\n\n[snap2]\ncores: 4\n"));

	/* Invalid input to set is refused without a change. */
	check_int(pve_config_set(c, NULL, "Bad", "x"), -EINVAL);
	check_int(pve_config_set(c, NULL, "name", "a\nmemory: 1"), -EINVAL);
	check_int(pve_config_set(c, "bad section]", "name", "x"), -EINVAL);
	check_int(pve_config_add(c, NULL, "cores", "3"), -EEXIST);
	check_streq(pve_config_get(c, NULL, "cores"), "2");

	/* Description replaced at the top, encoded. */
	pve_config_set_description(c, NULL, "new\ntext 100%");
	_cleanup_free_ char *out5 = pve_config_print(c);
	check(startswith(out5, "#new\n#text 100%25\nboot: "));
	_cleanup_free_ char *d = pve_config_get_description(c, NULL);
	check_streq(d, "new\ntext 100%");
	pve_config_set_description(c, NULL, NULL);
	_cleanup_free_ char *out6 = pve_config_print(c);
	check(startswith(out6, "boot: "));
}

static void test_config_new(void)
{
	_cleanup_config_ pve_config *c = pve_config_new();
	_cleanup_free_ char *e = pve_config_print(c);
	check_streq(e, "");
	check_int(pve_config_set(c, NULL, "memory", "512"), 0);
	check_int(pve_config_set(c, NULL, "cores", "1"), 0);
	check_int(pve_config_set(c, "snap", "memory", "256"), 0);
	_cleanup_free_ char *out = pve_config_print(c);
	check_streq(out, "memory: 512\ncores: 1\n\n[snap]\nmemory: 256\n");
	pve_config *c2 = parse_ok(out);
	_cleanup_free_ char *out2 = c2 ? pve_config_print(c2) : NULL;
	check_streq(out2, out);
	pve_config_free(c2);
}

static void test_config_lxc(void)
{
	const char *ct = "arch: amd64\n"
			 "hostname: www\n"
			 "lxc.idmap: u 0 100000 65536\n"
			 "lxc.idmap: g 0 100000 65536\n"
			 "lxc.cgroup2.devices.allow: c 10:200 rwm\n"
			 "rootfs: local:107/vm-107-disk-1.raw,size=7G\n";
	_cleanup_config_ pve_config *c = parse_ok(ct);
	if (!c)
		return;
	_cleanup_free_ char *out = pve_config_print(c);
	check_streq(out, ct);
	_cleanup_strv_free_ char **all = pve_config_get_all(c, NULL, "lxc.idmap");
	check_int(strv_length(all), 2);
	check_streq(all[1], "g 0 100000 65536");
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	check_int(strv_length(keys), 5);
	check_int(pve_config_add(c, NULL, "lxc.idmap", "u 1 2 3"), 0);
	_cleanup_strv_free_ char **all2 = pve_config_get_all(c, NULL, "lxc.idmap");
	check_int(strv_length(all2), 3);
	check(pve_config_delete(c, NULL, "lxc.idmap"));
	_cleanup_strv_free_ char **all3 = pve_config_get_all(c, NULL, "lxc.idmap");
	check_int(strv_length(all3), 0);
}

static void check_parse_error(const char *text, int code, const char *msg)
{
	_cleanup_error_ pve_error *err = NULL;
	pve_config *c = NULL;
	int r = pve_config_parse(text, strlen(text), &c, &err);
	if (r != -code)
		test_fail(__FILE__, __LINE__, "'%s': got %d, expected %d", text, r, -code);
	if (err && msg && !streq(err->message, msg))
		test_fail(__FILE__, __LINE__, "'%s': message '%s', expected '%s'", text,
			  err->message, msg);
	check(c == NULL);
	pve_config_free(c);
}

static void test_config_errors(void)
{
	check_parse_error("cores: 1\nmemory: 2\nFoo: 3\n", EINVAL, "line 3: invalid key 'Foo'");
	check_parse_error("cores: 1\ncores: 2\n", EINVAL, "line 2: duplicate key 'cores'");
	check_parse_error("cores: 1\n[s]\ncores: 2\n[s]\n", EINVAL,
			  "line 4: duplicate section 's'");
	check_parse_error("cores 1\n", EINVAL, "line 1: expected 'key: value', got 'cores 1'");
	check_parse_error("[bad\n", EINVAL, "line 1: invalid section header '[bad'");
	check_parse_error("[]\n", EINVAL, NULL);
	check_parse_error(" cores: 1\n", EINVAL, NULL);
	check_parse_error("1abc: 1\n", EINVAL, NULL);

	_cleanup_free_ char *big = xmalloc(PVE_CONFIG_MAX_TEXT + 2);
	memset(big, '#', PVE_CONFIG_MAX_TEXT + 1);
	big[PVE_CONFIG_MAX_TEXT + 1] = '\0';
	check_parse_error(big, E2BIG, NULL);
	big[PVE_CONFIG_MAX_LINE + 1] = '\0';
	check_parse_error(big, E2BIG, "line 1: longer than 65536 bytes");

	pve_buf b = { 0 };
	for (int i = 0; i <= PVE_CONFIG_MAX_KEYS; i++)
		pve_buf_printf(&b, "k%d: v\n", i);
	check_parse_error(b.data, E2BIG, NULL);
	pve_buf_free(&b);
	for (int i = 0; i <= PVE_CONFIG_MAX_SECTIONS; i++)
		pve_buf_printf(&b, "[s%d]\n", i);
	check_parse_error(b.data, E2BIG, NULL);
	pve_buf_free(&b);

	_cleanup_error_ pve_error *err = NULL;
	pve_config *c = NULL;
	check_int(pve_config_parse("a: 1\0b: 2\n", 10, &c, &err), -EINVAL);
	check_streq(err ? err->message : NULL, "line 1: contains a NUL byte");
}

static void test_config_noncanonical(void)
{
	/* Whitespace is normalised on the key line; the value loses trailing blanks. */
	_cleanup_config_ pve_config *c = parse_ok("cores:2   \r\nmemory:\t 512\nname:");
	if (!c)
		return;
	check_streq(pve_config_get(c, NULL, "cores"), "2");
	check_streq(pve_config_get(c, NULL, "memory"), "512");
	check_streq(pve_config_get(c, NULL, "name"), "");
	_cleanup_free_ char *out = pve_config_print(c);
	check_streq(out, "cores: 2\nmemory: 512\nname: \n");
}

static const char storage_cfg[] = "dir: local\n"
				  "\tpath /var/lib/vz\n"
				  "\tcontent iso,vztmpl,backup\n"
				  "\n"
				  "lvmthin: local-lvm\n"
				  "\tthinpool data\n"
				  "\tvgname pve\n"
				  "\tcontent rootdir,images\n"
				  "\n"
				  "# a comment\n"
				  "zfspool: local-zfs\n"
				  "\tpool rpool/data\n"
				  "\tsparse\n"
				  "#inside\n"
				  "\tcontent images,rootdir\n"
				  "\tdisable\n"
				  "\n";

static pve_sectioncfg *sc_parse_ok(const char *text)
{
	_cleanup_error_ pve_error *err = NULL;
	pve_sectioncfg *c = NULL;
	if (pve_sectioncfg_parse(text, strlen(text), &c, &err) < 0)
		test_fail(__FILE__, __LINE__, "parse failed: %s", err ? err->message : "?");
	return c;
}

static void test_sectioncfg_roundtrip(void)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = sc_parse_ok(storage_cfg);
	if (!c)
		return;
	_cleanup_free_ char *out = pve_sectioncfg_print(c);
	check_streq(out, storage_cfg);
	check_int(pve_sectioncfg_count(c), 3);
	pve_section *s = pve_sectioncfg_nth(c, 0);
	check_streq(pve_section_type(s), "dir");
	check_streq(pve_section_id(s), "local");
	check_int(pve_section_count(s), 2);
	check_streq(pve_section_key(s, 1), "content");
	check_streq(pve_section_value(s, 1), "iso,vztmpl,backup");
	check(pve_sectioncfg_nth(c, 3) == NULL);

	pve_section *z = pve_sectioncfg_find(c, "local-zfs");
	check(z != NULL);
	if (!z)
		return;
	check_streq(pve_section_type(z), "zfspool");
	check_int(pve_section_count(z), 4);
	check_streq(pve_section_get(z, "sparse"), "1");
	check_streq(pve_section_get(z, "disable"), "1");
	check_streq(pve_section_key(z, 2), "content");
	check_streq(pve_section_value(z, 3), "1");
	check(pve_section_get(z, "path") == NULL);
}

static void test_sectioncfg_edit(void)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = sc_parse_ok(storage_cfg);
	if (!c)
		return;
	pve_section *l = pve_sectioncfg_find(c, "local");
	check_int(pve_section_set(l, "content", "iso"), 0);
	check_int(pve_section_set(l, "shared", "1"), 0);
	check_int(pve_section_set(l, "bad key", "1"), -EINVAL);
	check_int(pve_section_set(l, "x", "a\nb"), -EINVAL);
	check_int(pve_section_set(l, "x", ""), -EINVAL);
	_cleanup_free_ char *out = pve_sectioncfg_print(c);
	check(startswith(out,
			 "dir: local\n\tpath /var/lib/vz\n\tcontent iso\n\tshared 1\n\nlvmthin"));

	check(pve_section_delete(l, "shared"));
	check(!pve_section_delete(l, "shared"));

	_cleanup_error_ pve_error *err = NULL;
	pve_section *n = NULL;
	check_int(pve_sectioncfg_add(c, "dir", "local", &n, &err), -EEXIST);
	check(err && err->code == EEXIST);
	check_int(pve_sectioncfg_add(c, "nfs", "backup", &n, NULL), 0);
	check_int(pve_section_set(n, "server", "10.0.0.1"), 0);
	check_int(pve_section_set(n, "export", "/srv"), 0);
	check_int(pve_sectioncfg_add(c, "Bad", "x", NULL, NULL), -EINVAL);
	check_int(pve_sectioncfg_add(c, "dir", "a b", NULL, NULL), -EINVAL);
	_cleanup_free_ char *out2 = pve_sectioncfg_print(c);
	check(endswith(out2, "\tdisable\n\nnfs: backup\n\tserver 10.0.0.1\n\texport /srv\n\n"));
	check_int(pve_sectioncfg_count(c), 4);

	check(pve_sectioncfg_remove(c, "lvmthin") == false);
	check(pve_sectioncfg_remove(c, "local-lvm"));
	check_int(pve_sectioncfg_count(c), 3);
	_cleanup_free_ char *out3 = pve_sectioncfg_print(c);
	check(strstr(out3, "\tcontent iso\n\n# a comment\nzfspool: local-zfs\n") != NULL);

	/* From scratch: Proxmox's layout, a blank line after each section. */
	_cleanup_sectioncfg_ pve_sectioncfg *e = pve_sectioncfg_new();
	check_int(pve_sectioncfg_add(e, "pam", "pam", &n, NULL), 0);
	check_int(pve_section_set(n, "comment", "Linux PAM standard authentication"), 0);
	check_int(pve_sectioncfg_add(e, "pve", "pve", &n, NULL), 0);
	check_int(pve_section_set(n, "comment", "Proxmox VE authentication server"), 0);
	check_int(pve_section_set(n, "default", "1"), 0);
	_cleanup_free_ char *out4 = pve_sectioncfg_print(e);
	check_streq(out4, "pam: pam\n\tcomment Linux PAM standard authentication\n\n"
			  "pve: pve\n\tcomment Proxmox VE authentication server\n\tdefault 1\n\n");
	_cleanup_sectioncfg_ pve_sectioncfg *e2 = sc_parse_ok(out4);
	_cleanup_free_ char *out5 = e2 ? pve_sectioncfg_print(e2) : NULL;
	check_streq(out5, out4);
}

static void check_sc_error(const char *text, int code, const char *msg)
{
	_cleanup_error_ pve_error *err = NULL;
	pve_sectioncfg *c = NULL;
	int r = pve_sectioncfg_parse(text, strlen(text), &c, &err);
	if (r != -code)
		test_fail(__FILE__, __LINE__, "'%s': got %d, expected %d", text, r, -code);
	if (err && msg && !streq(err->message, msg))
		test_fail(__FILE__, __LINE__, "'%s': message '%s', expected '%s'", text,
			  err->message, msg);
	check(c == NULL);
	pve_sectioncfg_free(c);
}

static void test_sectioncfg_errors(void)
{
	check_sc_error("dir: a\n\tpath /x\n\ndir: a\n", EINVAL, "line 4: duplicate section ID 'a'");
	check_sc_error("dir: a\n\tpath /x\n\tpath /y\n", EINVAL,
		       "line 3: duplicate property 'path' in section 'a'");
	check_sc_error("\tpath /x\n", EINVAL, "line 1: property line outside of a section");
	check_sc_error("dir: a\n\n\tpath /x\n", EINVAL,
		       "line 3: property line outside of a section");
	check_sc_error("dir a\n", EINVAL, NULL);
	check_sc_error("dir: a b\n", EINVAL, NULL);
	check_sc_error("Dir: a\n", EINVAL, NULL);
	check_sc_error("dir:\n", EINVAL, NULL);
	check_sc_error("dir: a\n\t-x 1\n", EINVAL, "line 2: invalid property name '-x'");
	pve_buf b = { 0 };
	for (int i = 0; i <= PVE_CONFIG_MAX_SECTIONS; i++)
		pve_buf_printf(&b, "dir: s%d\n", i);
	check_sc_error(b.data, E2BIG, NULL);
	pve_buf_free(&b);
	/* Same property names in different sections are fine. */
	_cleanup_sectioncfg_ pve_sectioncfg *c =
		sc_parse_ok("dir: a\n\tpath /a\ndir: b\n\tpath /b\n");
	check(c && pve_sectioncfg_count(c) == 2);
}

TEST_MAIN(TEST(test_config_roundtrip), TEST(test_config_edit), TEST(test_config_new),
	  TEST(test_config_lxc), TEST(test_config_errors), TEST(test_config_noncanonical),
	  TEST(test_sectioncfg_roundtrip), TEST(test_sectioncfg_edit), TEST(test_sectioncfg_errors))
