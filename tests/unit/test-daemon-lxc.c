/* Unit tests for daemon/lxc's config helpers: mount point values (their volume, size and whether they
 * ask for a new volume), the volumes a config owns, and [pve:pending] applied as Proxmox applies it
 * (a replaced or deleted mount point's volume kept as unusedN unless a snapshot still uses it, a forced
 * deletion or a deleted unusedN left to free, lxc.* lines untouched). */
#include "daemon/lxc/lxc-internal.h"
#include "tests/unit/test.h"

static void mp_values(void)
{
	_cleanup_free_ char *a = ct_mp_volume("local:100/vm-100-disk-0.raw,size=4G");
	check_streq(a, "local:100/vm-100-disk-0.raw");
	_cleanup_free_ char *b = ct_mp_volume("mp=/data,volume=bt:100/subvol-100-disk-1.subvol");
	check_streq(b, "bt:100/subvol-100-disk-1.subvol");
	_cleanup_free_ char *c = ct_mp_volume("/srv/share,mp=/share,ro=1");
	check_streq(c, "/srv/share");
	check(ct_mp_volume("mp=/data") == NULL);
	check(ct_mp_size("local:100/vm-100-disk-0.raw,size=4G") == 4ull << 30);
	check(ct_mp_size("size=512M,volume=local:1") == 512ull << 20);
	check(ct_mp_size("local:100/x.raw") == 0);
	check(ct_alloc_request("local:4"));
	check(ct_alloc_request("local:0"));
	check(ct_alloc_request("local:0.5"));
	check(!ct_alloc_request("local:100/vm-100-disk-0.raw"));
	check(!ct_alloc_request("/srv/share"));
	check(!ct_alloc_request("local:"));
	check(!ct_alloc_request("a/b:4"));
	check(ct_volume_is_storage("local:100/vm-100-disk-0.raw"));
	check(!ct_volume_is_storage("/dev/sdb"));
}

static pve_config *parse(const char *text)
{
	pve_config *c = NULL;
	check(pve_config_parse(text, strlen(text), &c, NULL) == 0);
	return c;
}

static void volumes_of_config(void)
{
	_cleanup_config_ pve_config *c =
		parse("rootfs: local:100/vm-100-disk-0.raw,size=1G\n"
		      "mp0: local:100/vm-100-disk-1.raw,mp=/a,size=1G\n"
		      "mp1: /host/dir,mp=/b\n"
		      "unused0: local:100/vm-100-disk-2.raw\n"
		      "\n[snap]\nrootfs: local:100/vm-100-disk-0.raw,size=1G\n"
		      "mp0: local:100/vm-100-disk-3.raw,mp=/a\n");
	_cleanup_strv_free_ char **v = ct_conf_volumes(c, 100);
	check_int(strv_length(v), 4);
	check(strv_contains(v, "local:100/vm-100-disk-3.raw"));
	check(!strv_contains(v, "/host/dir"));
}

static void pending_applied(void)
{
	_cleanup_config_ pve_config *c =
		parse("cores: 1\n"
		      "mp0: local:100/vm-100-disk-1.raw,mp=/a,size=1G\n"
		      "mp1: local:100/vm-100-disk-2.raw,mp=/b,size=1G\n"
		      "mp2: local:100/vm-100-disk-4.raw,mp=/c,size=1G\n"
		      "unused0: local:100/vm-100-disk-3.raw\n"
		      "lxc.cgroup2.devices.allow: c 1:3 rwm\n"
		      "lxc.cgroup2.devices.allow: c 1:5 rwm\n"
		      "\n[pve:pending]\n#new words\ncores: 4\ndelete: mp0,!mp1,unused0,mp2\n"
		      "\n[s1]\nmp2: local:100/vm-100-disk-4.raw,mp=/c,size=1G\n");
	_cleanup_strv_free_ char **destroy = NULL;
	ct_apply_pending(c, &destroy);
	check(!pve_config_has_section(c, CT_SECTION_PENDING));
	check_streq(pve_config_get(c, NULL, "cores"), "4");
	_cleanup_free_ char *desc = pve_config_get_description(c, NULL);
	check_streq(desc, "new words");
	/* mp0's volume is kept as an unused disk: the first free one when mp0 went (deletions in
	 * their order, as Proxmox's); unused0 itself was deleted after it */
	check(pve_config_get(c, NULL, "mp0") == NULL);
	check(pve_config_get(c, NULL, "unused0") == NULL);
	check_streq(pve_config_get(c, NULL, "unused1"), "local:100/vm-100-disk-1.raw");
	/* the forced deletion and the deleted unused disk are freed; mp2's volume is the snapshot's */
	check_int(strv_length(destroy), 2);
	check(strv_contains(destroy, "local:100/vm-100-disk-2.raw"));
	check(strv_contains(destroy, "local:100/vm-100-disk-3.raw"));
	check(pve_config_get(c, NULL, "mp2") == NULL);
	check(pve_config_get(c, NULL, "unused2") == NULL);
	_cleanup_strv_free_ char **raw = pve_config_get_all(c, NULL, "lxc.cgroup2.devices.allow");
	check_int(strv_length(raw), 2);
}

TEST_MAIN(TEST(mp_values), TEST(volumes_of_config), TEST(pending_applied))
