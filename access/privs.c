/* access/privs.c: the privileges and built-in roles, exactly as Proxmox defines them. */
#include "access/access-internal.h"

/* Generated from Proxmox's $privgroups and create_roles() (see the reference, section 3.1/3.2). */
static const char *const priv_names[] = {
	"Datastore.Allocate",
	"Datastore.AllocateSpace",
	"Datastore.AllocateTemplate",
	"Datastore.Audit",
	"Group.Allocate",
	"Mapping.Audit",
	"Mapping.Modify",
	"Mapping.Use",
	"Permissions.Modify",
	"Pool.Allocate",
	"Pool.Audit",
	"Realm.Allocate",
	"Realm.AllocateUser",
	"SDN.Allocate",
	"SDN.Audit",
	"SDN.Use",
	"Sys.AccessNetwork",
	"Sys.Audit",
	"Sys.Console",
	"Sys.Incoming",
	"Sys.Modify",
	"Sys.PowerMgmt",
	"Sys.Syslog",
	"User.Modify",
	"VM.Allocate",
	"VM.Audit",
	"VM.Backup",
	"VM.Clone",
	"VM.Config.CDROM",
	"VM.Config.CPU",
	"VM.Config.Cloudinit",
	"VM.Config.Disk",
	"VM.Config.HWType",
	"VM.Config.Memory",
	"VM.Config.Network",
	"VM.Config.Options",
	"VM.Console",
	"VM.GuestAgent.Audit",
	"VM.GuestAgent.FileRead",
	"VM.GuestAgent.FileSystemMgmt",
	"VM.GuestAgent.FileWrite",
	"VM.GuestAgent.Unrestricted",
	"VM.Migrate",
	"VM.PowerMgmt",
	"VM.Replicate",
	"VM.Snapshot",
	"VM.Snapshot.Rollback",
	NULL,
};
#define N_PRIVS 47
static const char *const role_Administrator[] = {
	"Datastore.Allocate",
	"Datastore.AllocateSpace",
	"Datastore.AllocateTemplate",
	"Datastore.Audit",
	"Group.Allocate",
	"Mapping.Audit",
	"Mapping.Modify",
	"Mapping.Use",
	"Permissions.Modify",
	"Pool.Allocate",
	"Pool.Audit",
	"Realm.Allocate",
	"Realm.AllocateUser",
	"SDN.Allocate",
	"SDN.Audit",
	"SDN.Use",
	"Sys.AccessNetwork",
	"Sys.Audit",
	"Sys.Console",
	"Sys.Incoming",
	"Sys.Modify",
	"Sys.PowerMgmt",
	"Sys.Syslog",
	"User.Modify",
	"VM.Allocate",
	"VM.Audit",
	"VM.Backup",
	"VM.Clone",
	"VM.Config.CDROM",
	"VM.Config.CPU",
	"VM.Config.Cloudinit",
	"VM.Config.Disk",
	"VM.Config.HWType",
	"VM.Config.Memory",
	"VM.Config.Network",
	"VM.Config.Options",
	"VM.Console",
	"VM.GuestAgent.Audit",
	"VM.GuestAgent.FileRead",
	"VM.GuestAgent.FileSystemMgmt",
	"VM.GuestAgent.FileWrite",
	"VM.GuestAgent.Unrestricted",
	"VM.Migrate",
	"VM.PowerMgmt",
	"VM.Replicate",
	"VM.Snapshot",
	"VM.Snapshot.Rollback",
	NULL,
};
static const char *const role_NoAccess[] = {
	NULL,
};
static const char *const role_PVEAdmin[] = {
	"Datastore.Allocate",
	"Datastore.AllocateSpace",
	"Datastore.AllocateTemplate",
	"Datastore.Audit",
	"Group.Allocate",
	"Mapping.Audit",
	"Mapping.Use",
	"Pool.Allocate",
	"Pool.Audit",
	"Realm.AllocateUser",
	"SDN.Allocate",
	"SDN.Audit",
	"SDN.Use",
	"Sys.Audit",
	"Sys.Console",
	"Sys.Syslog",
	"User.Modify",
	"VM.Allocate",
	"VM.Audit",
	"VM.Backup",
	"VM.Clone",
	"VM.Config.CDROM",
	"VM.Config.CPU",
	"VM.Config.Cloudinit",
	"VM.Config.Disk",
	"VM.Config.HWType",
	"VM.Config.Memory",
	"VM.Config.Network",
	"VM.Config.Options",
	"VM.Console",
	"VM.GuestAgent.Audit",
	"VM.GuestAgent.FileRead",
	"VM.GuestAgent.FileSystemMgmt",
	"VM.GuestAgent.FileWrite",
	"VM.GuestAgent.Unrestricted",
	"VM.Migrate",
	"VM.PowerMgmt",
	"VM.Replicate",
	"VM.Snapshot",
	"VM.Snapshot.Rollback",
	NULL,
};
static const char *const role_PVEAuditor[] = {
	"Datastore.Audit", "Mapping.Audit", "Pool.Audit",	   "SDN.Audit",
	"Sys.Audit",	   "VM.Audit",	    "VM.GuestAgent.Audit", NULL,
};
static const char *const role_PVEDatastoreAdmin[] = {
	"Datastore.Allocate",
	"Datastore.AllocateSpace",
	"Datastore.AllocateTemplate",
	"Datastore.Audit",
	NULL,
};
static const char *const role_PVEDatastoreUser[] = {
	"Datastore.AllocateSpace",
	"Datastore.Audit",
	NULL,
};
static const char *const role_PVEMappingAdmin[] = {
	"Mapping.Audit",
	"Mapping.Modify",
	"Mapping.Use",
	NULL,
};
static const char *const role_PVEMappingUser[] = {
	"Mapping.Audit",
	"Mapping.Use",
	NULL,
};
static const char *const role_PVEPoolAdmin[] = {
	"Pool.Allocate",
	"Pool.Audit",
	NULL,
};
static const char *const role_PVEPoolUser[] = {
	"Pool.Audit",
	NULL,
};
static const char *const role_PVESDNAdmin[] = {
	"SDN.Allocate",
	"SDN.Audit",
	"SDN.Use",
	NULL,
};
static const char *const role_PVESDNUser[] = {
	"SDN.Audit",
	"SDN.Use",
	NULL,
};
static const char *const role_PVESysAdmin[] = {
	"Sys.Audit",
	"Sys.Console",
	"Sys.Syslog",
	NULL,
};
static const char *const role_PVETemplateUser[] = {
	"VM.Audit",
	"VM.Clone",
	NULL,
};
static const char *const role_PVEUserAdmin[] = {
	"Group.Allocate",
	"Realm.AllocateUser",
	"User.Modify",
	NULL,
};
static const char *const role_PVEVMAdmin[] = {
	"VM.Allocate",
	"VM.Audit",
	"VM.Backup",
	"VM.Clone",
	"VM.Config.CDROM",
	"VM.Config.CPU",
	"VM.Config.Cloudinit",
	"VM.Config.Disk",
	"VM.Config.HWType",
	"VM.Config.Memory",
	"VM.Config.Network",
	"VM.Config.Options",
	"VM.Console",
	"VM.GuestAgent.Audit",
	"VM.GuestAgent.FileRead",
	"VM.GuestAgent.FileSystemMgmt",
	"VM.GuestAgent.FileWrite",
	"VM.GuestAgent.Unrestricted",
	"VM.Migrate",
	"VM.PowerMgmt",
	"VM.Replicate",
	"VM.Snapshot",
	"VM.Snapshot.Rollback",
	NULL,
};
static const char *const role_PVEVMUser[] = {
	"VM.Audit",
	"VM.Backup",
	"VM.Config.CDROM",
	"VM.Config.Cloudinit",
	"VM.Console",
	"VM.GuestAgent.Audit",
	"VM.GuestAgent.FileRead",
	"VM.GuestAgent.FileSystemMgmt",
	"VM.GuestAgent.FileWrite",
	"VM.PowerMgmt",
	NULL,
};
static const struct builtin_role {
	const char *name;
	const char *const *privs;
} builtin_roles[] = {
	{ "Administrator", role_Administrator },
	{ "NoAccess", role_NoAccess },
	{ "PVEAdmin", role_PVEAdmin },
	{ "PVEAuditor", role_PVEAuditor },
	{ "PVEDatastoreAdmin", role_PVEDatastoreAdmin },
	{ "PVEDatastoreUser", role_PVEDatastoreUser },
	{ "PVEMappingAdmin", role_PVEMappingAdmin },
	{ "PVEMappingUser", role_PVEMappingUser },
	{ "PVEPoolAdmin", role_PVEPoolAdmin },
	{ "PVEPoolUser", role_PVEPoolUser },
	{ "PVESDNAdmin", role_PVESDNAdmin },
	{ "PVESDNUser", role_PVESDNUser },
	{ "PVESysAdmin", role_PVESysAdmin },
	{ "PVETemplateUser", role_PVETemplateUser },
	{ "PVEUserAdmin", role_PVEUserAdmin },
	{ "PVEVMAdmin", role_PVEVMAdmin },
	{ "PVEVMUser", role_PVEVMUser },
};
static const char *const builtin_role_names[] = {
	"Administrator",   "NoAccess",		"PVEAdmin",
	"PVEAuditor",	   "PVEDatastoreAdmin", "PVEDatastoreUser",
	"PVEMappingAdmin", "PVEMappingUser",	"PVEPoolAdmin",
	"PVEPoolUser",	   "PVESDNAdmin",	"PVESDNUser",
	"PVESysAdmin",	   "PVETemplateUser",	"PVEUserAdmin",
	"PVEVMAdmin",	   "PVEVMUser",		NULL,
};

const char *const *pve_privileges(void)
{
	return priv_names;
}

int access_priv_index(const char *priv)
{
	size_t lo = 0, hi = N_PRIVS;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(priv, priv_names[mid]);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

bool pve_privilege_valid(const char *priv)
{
	return priv && access_priv_index(priv) >= 0;
}

const char *const *pve_builtin_role_privs(const char *roleid)
{
	if (!roleid)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(builtin_roles); i++)
		if (strcmp(builtin_roles[i].name, roleid) == 0)
			return builtin_roles[i].privs;
	return NULL;
}

const char *const *pve_builtin_roles(void)
{
	return builtin_role_names;
}

uint64_t access_privs_mask(const char *const *privs)
{
	uint64_t m = 0;
	for (; privs && *privs; privs++) {
		int i = access_priv_index(*privs);
		if (i >= 0)
			m |= UINT64_C(1) << i;
	}
	return m;
}

const char *access_priv_name(int index)
{
	return index >= 0 && index < N_PRIVS ? priv_names[index] : NULL;
}

uint64_t access_all_privs(void)
{
	return (UINT64_C(1) << N_PRIVS) - 1;
}
