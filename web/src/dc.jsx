// The datacenter: summary, storage, permissions (users, groups, roles, ACLs, tokens, realms, TFA),
// pools, firewall.
import { useState } from 'preact/hooks';
import { api, post, put } from './api.js';
import { CrudGrid, FirewallOptions, FirewallRules } from './common.jsx';
import { Bar, ErrorBox, FormDialog, Grid, KV, Tabs, Toolbar, fmtBytes, fmtPct, fmtTime, fmtUptime, useApi } from './ui.jsx';
import { showTask } from './tasks.jsx';

const yes = (v) => (Number(v) ? 'Yes' : 'No');

function Summary({ resources }) {
	const ver = useApi('/version');
	const nodes = resources.filter((r) => r.type === 'node');
	const vms = resources.filter((r) => r.type === 'qemu');
	const cts = resources.filter((r) => r.type === 'lxc');
	const run = (l) => l.filter((r) => r.status === 'running').length;
	return (
		<div class="summary">
			<div class="cards">
				<div class="card"><h3>Nodes</h3><p>{nodes.length} ({nodes.filter((n) => n.status === 'online').length} online)</p></div>
				<div class="card"><h3>Virtual machines</h3><p>{vms.length} ({run(vms)} running)</p></div>
				<div class="card"><h3>Containers</h3><p>{cts.length} ({run(cts)} running)</p></div>
				<div class="card"><h3>Version</h3><p>{ver.data ? `${ver.data.version || ''} ${ver.data.release || ''}` : ''}</p></div>
			</div>
			<Grid label="Nodes" rowKey={(r) => r.id} rows={nodes} columns={[
				{ key: 'node', label: 'Node' }, { key: 'status', label: 'Status' },
				{ key: 'cpu', label: 'CPU', render: (v, r) => (v === undefined ? '' : <>{fmtPct(v)} <Bar value={v} max={1} /></>) },
				{ key: 'mem', label: 'Memory', render: (v, r) => (v === undefined ? '' : `${fmtBytes(v)} / ${fmtBytes(r.maxmem)}`) },
				{ key: 'uptime', label: 'Uptime', render: fmtUptime },
			]} />
		</div>
	);
}

const STORAGE_TYPES = ['dir', 'btrfs', 'nfs', 'cifs', 'lvm', 'lvmthin', 'iscsi', 'iscsidirect'];
const CONTENT = 'images,rootdir,iso,vztmpl,backup,snippets,import';
function Storage() {
	const common = [
		{ name: 'content', label: 'Content', placeholder: CONTENT },
		{ name: 'nodes', label: 'Nodes' },
		{ name: 'disable', label: 'Disable', type: 'bool' },
		{ name: 'shared', label: 'Shared', type: 'bool' },
	];
	return (
		<CrudGrid label="Storage" path="/storage" rowKey={(r) => r.storage}
			columns={[{ key: 'storage', label: 'ID' }, { key: 'type', label: 'Type' },
				{ key: 'content', label: 'Content' }, { key: 'path', label: 'Path/Target', render: (v, r) => v || r.server || r.portal || r.vgname || '' },
				{ key: 'shared', label: 'Shared', render: yes }, { key: 'disable', label: 'Enabled', render: (v) => (Number(v) ? 'No' : 'Yes') }]}
			createFields={[
				{ name: 'storage', label: 'ID', required: true },
				{ name: 'type', label: 'Type', type: 'select', required: true, options: STORAGE_TYPES },
				{ name: 'path', label: 'Directory (dir, btrfs)' },
				{ name: 'server', label: 'Server (nfs, cifs)' },
				{ name: 'export', label: 'Export (nfs)' },
				{ name: 'share', label: 'Share (cifs)' },
				{ name: 'vgname', label: 'Volume group (lvm)' },
				{ name: 'thinpool', label: 'Thin pool (lvmthin)' },
				{ name: 'portal', label: 'Portal (iscsi)' },
				{ name: 'target', label: 'Target (iscsi)' },
				...common]}
			createInitial={{ type: 'dir' }}
			editFields={common} editGet={(r) => `/storage/${r.storage}`} editPath={(r) => `/storage/${r.storage}`}
			deletePath={(r) => `/storage/${r.storage}`} />
	);
}

function Users() {
	const f = [
		{ name: 'email', label: 'E-mail' }, { name: 'firstname', label: 'First name' },
		{ name: 'lastname', label: 'Last name' }, { name: 'groups', label: 'Groups' },
		{ name: 'expire', label: 'Expire (epoch)', type: 'number' }, { name: 'enable', label: 'Enabled', type: 'bool' },
		{ name: 'comment', label: 'Comment' },
	];
	const [pw, setPw] = useState(null);
	return (
		<>
			<CrudGrid label="Users" path="/access/users" query={{ full: 1 }} rowKey={(r) => r.userid}
				columns={[{ key: 'userid', label: 'User name' }, { key: 'realm-type', label: 'Realm type' },
					{ key: 'enable', label: 'Enabled', render: yes }, { key: 'expire', label: 'Expire', render: (v) => (Number(v) ? fmtTime(v) : 'never') },
					{ key: 'firstname', label: 'Name', render: (v, r) => [v, r.lastname].filter(Boolean).join(' ') },
					{ key: 'groups', label: 'Groups' }, { key: 'comment', label: 'Comment' }]}
				createFields={[{ name: 'userid', label: 'User name (user@realm)', required: true },
					{ name: 'password', label: 'Password (pve realm)', type: 'password' }, ...f]}
				createInitial={{ enable: 1 }}
				editFields={f} editGet={(r) => `/access/users/${encodeURIComponent(r.userid)}`}
				editPath={(r) => `/access/users/${encodeURIComponent(r.userid)}`}
				deletePath={(r) => `/access/users/${encodeURIComponent(r.userid)}`}
				toolbar={(row) => <>
					<button disabled={!row} onClick={() => setPw(row.userid)}>Password</button>
					<button disabled={!row} onClick={() => api('PUT', `/access/users/${encodeURIComponent(row.userid)}/unlock-tfa`)}>Unlock TFA</button>
				</>} />
			{pw && <FormDialog title={`Password of ${pw}`} onClose={() => setPw(null)}
				fields={[{ name: 'password', label: 'New password', type: 'password', required: true },
					{ name: 'confirmation-password', label: 'Your password', type: 'password' }]}
				onSubmit={(v) => api('PUT', '/access/password', { userid: pw, ...v })} />}
		</>
	);
}

function Groups() {
	return (
		<CrudGrid label="Groups" path="/access/groups" rowKey={(r) => r.groupid}
			columns={[{ key: 'groupid', label: 'Name' }, { key: 'users', label: 'Users' }, { key: 'comment', label: 'Comment' }]}
			createFields={[{ name: 'groupid', label: 'Name', required: true }, { name: 'comment', label: 'Comment' }]}
			editFields={[{ name: 'comment', label: 'Comment' }]} editPath={(r) => `/access/groups/${r.groupid}`}
			deletePath={(r) => `/access/groups/${r.groupid}`} />
	);
}

function Roles() {
	return (
		<CrudGrid label="Roles" path="/access/roles" rowKey={(r) => r.roleid}
			columns={[{ key: 'roleid', label: 'Name' }, { key: 'special', label: 'Built-in', render: yes },
				{ key: 'privs', label: 'Privileges' }]}
			createFields={[{ name: 'roleid', label: 'Name', required: true }, { name: 'privs', label: 'Privileges (comma separated)' }]}
			editFields={(r) => (r && Number(r.special) ? [{ name: 'privs', label: 'Privileges', type: 'static' }]
				: [{ name: 'privs', label: 'Privileges (comma separated)' }])}
			editPath={(r) => `/access/roles/${r.roleid}`} deletePath={(r) => `/access/roles/${r.roleid}`} />
	);
}

function Acl() {
	const roles = useApi('/access/roles');
	const f = [
		{ name: 'path', label: 'Path', required: true, placeholder: '/, /vms/100, /pool/NAME, /storage/ID' },
		{ name: 'kind', label: 'For', type: 'select', required: true, options: [['users', 'User'], ['groups', 'Group'], ['tokens', 'API token']] },
		{ name: 'ugid', label: 'User, group or token', required: true },
		{ name: 'roles', label: 'Role', type: 'select', required: true, options: (roles.data || []).map((r) => r.roleid).sort() },
		{ name: 'propagate', label: 'Propagate', type: 'bool' },
	];
	const toParams = (v) => ({ path: v.path, roles: v.roles, propagate: v.propagate ?? 1, [v.kind]: v.ugid });
	return (
		<CrudGrid label="Permissions" path="/access/acl" rowKey={(r) => `${r.path} ${r.type} ${r.ugid} ${r.roleid}`}
			columns={[{ key: 'path', label: 'Path' }, { key: 'type', label: 'Type' }, { key: 'ugid', label: 'User/Group/Token' },
				{ key: 'roleid', label: 'Role' }, { key: 'propagate', label: 'Propagate', render: yes }]}
			createFields={f} createInitial={{ kind: 'users', propagate: 1, path: '/' }}
			createMethod="PUT" createPath="/access/acl"
			toolbar={(row, reload) => row && <button onClick={async () => {
				const k = row.type === 'group' ? 'groups' : row.type === 'token' ? 'tokens' : 'users';
				await api('PUT', '/access/acl', { path: row.path, roles: row.roleid, [k]: row.ugid, delete: 1 });
				reload();
			}}>Remove ACL</button>}
			createParams={toParams} />
	);
}

function Tokens() {
	const users = useApi('/access/users');
	const [made, setMade] = useState(null);
	const [user, setUser] = useState('');
	const u = user || (users.data && users.data[0] && users.data[0].userid) || '';
	const base = `/access/users/${encodeURIComponent(u)}/token`;
	return (
		<div>
			<label class="inline">User: <select value={u} onChange={(e) => setUser(e.target.value)}>
				{(users.data || []).map((x) => <option>{x.userid}</option>)}</select></label>
			{u && <CrudGrid key={u} label="API tokens" path={base} rowKey={(r) => r.tokenid}
				columns={[{ key: 'tokenid', label: 'Token ID' }, { key: 'privsep', label: 'Privilege separation', render: yes },
					{ key: 'expire', label: 'Expire', render: (v) => (Number(v) ? fmtTime(v) : 'never') }, { key: 'comment', label: 'Comment' }]}
				createFields={[{ name: 'tokenid', label: 'Token ID', required: true }, { name: 'privsep', label: 'Privilege separation', type: 'bool' },
					{ name: 'expire', label: 'Expire (epoch)', type: 'number' }, { name: 'comment', label: 'Comment' }]}
				createInitial={{ privsep: 1 }}
				createPath={(v) => `${base}/${encodeURIComponent(v.tokenid)}`}
				onCreated={(r) => setMade(r)}
				editFields={[{ name: 'privsep', label: 'Privilege separation', type: 'bool' }, { name: 'expire', label: 'Expire (epoch)', type: 'number' },
					{ name: 'comment', label: 'Comment' }]}
				editPath={(r) => `${base}/${encodeURIComponent(r.tokenid)}`} deletePath={(r) => `${base}/${encodeURIComponent(r.tokenid)}`} />}
			{made && <div class="notice" role="status">Token <code>{made['full-tokenid']}</code>, secret <code>{made.value}</code>: it is shown only now.
				<button onClick={() => setMade(null)}>OK</button></div>}
		</div>
	);
}

function Realms() {
	const f = [{ name: 'comment', label: 'Comment' }, { name: 'default', label: 'Default', type: 'bool' },
		{ name: 'server1', label: 'Server' }, { name: 'port', label: 'Port', type: 'number' },
		{ name: 'base_dn', label: 'Base DN' }, { name: 'user_attr', label: 'User attribute' },
		{ name: 'domain', label: 'Domain (ad)' }, { name: 'bind_dn', label: 'Bind DN' },
		{ name: 'password', label: 'Bind password', type: 'password' },
		{ name: 'mode', label: 'Mode', type: 'select', options: ['ldap', 'ldaps', 'ldap+starttls'] },
		{ name: 'tfa', label: 'TFA', placeholder: 'type=oath' }];
	return (
		<CrudGrid label="Realms" path="/access/domains" rowKey={(r) => r.realm}
			columns={[{ key: 'realm', label: 'Realm' }, { key: 'type', label: 'Type' }, { key: 'comment', label: 'Comment' },
				{ key: 'tfa', label: 'TFA' }, { key: 'default', label: 'Default', render: yes }]}
			createFields={[{ name: 'realm', label: 'Realm', required: true },
				{ name: 'type', label: 'Type', type: 'select', required: true, options: ['ldap', 'ad'] }, ...f]}
			createInitial={{ type: 'ldap' }}
			editFields={f.filter((x) => x.name !== 'password')} editGet={(r) => `/access/domains/${r.realm}`}
			editPath={(r) => `/access/domains/${r.realm}`} deletePath={(r) => `/access/domains/${r.realm}`}
			toolbar={(row) => <SyncButton row={row} />} />
	);
}

function SyncButton({ row }) {
	const [open, setOpen] = useState(false);
	const can = row && (row.type === 'ldap' || row.type === 'ad');
	return (
		<>
			<button disabled={!can} onClick={() => setOpen(true)}>Sync</button>
			{open && <FormDialog title={`Sync realm ${row.realm}`} submitLabel="Sync" onClose={() => setOpen(false)}
				fields={[{ name: 'scope', label: 'Scope', type: 'select', options: ['users', 'groups', 'both'] },
					{ name: 'remove-vanished', label: 'Remove vanished', placeholder: 'acl;entry;properties' },
					{ name: 'enable-new', label: 'Enable new', type: 'bool' },
					{ name: 'dry-run', label: 'Dry run', type: 'bool' }]}
				initial={{ scope: 'both', 'enable-new': 1 }}
				onSubmit={async (v) => showTask(await post(`/access/domains/${row.realm}/sync`, v))} />}
		</>
	);
}

function Tfa() {
	const { data, error, reload } = useApi('/access/tfa');
	const [add, setAdd] = useState(false);
	const [sel, setSel] = useState(null);
	const rows = [];
	for (const u of data || [])
		for (const e of u.entries || []) rows.push({ key: `${u.userid}/${e.id}`, userid: u.userid, ...e });
	const row = rows.find((r) => r.key === sel);
	return (
		<div>
			<div class="toolbar">
				<button onClick={() => setAdd(true)}>Add TOTP</button>
				<button disabled={!row} onClick={async () => {
					await api('DELETE', `/access/tfa/${encodeURIComponent(row.userid)}/${row.id}`);
					reload();
				}}>Remove</button>
			</div>
			<ErrorBox error={error} />
			<Grid label="Second factors" rowKey={(r) => r.key} rows={rows} selected={sel} onSelect={setSel}
				columns={[{ key: 'userid', label: 'User' }, { key: 'type', label: 'Type' }, { key: 'description', label: 'Description' },
					{ key: 'created', label: 'Created', render: fmtTime }, { key: 'enable', label: 'Enabled', render: (v) => (v === 0 ? 'No' : 'Yes') }]} />
			{add && <FormDialog title="Add a TOTP factor" onClose={() => setAdd(false)}
				fields={[{ name: 'userid', label: 'User', required: true },
					{ name: 'description', label: 'Description' },
					{ name: 'totp', label: 'otpauth:// URI (secret)', required: true, placeholder: 'otpauth://totp/pved:user?secret=BASE32' },
					{ name: 'value', label: 'Current code', required: true },
					{ name: 'password', label: 'Your password', type: 'password' }]}
				onSubmit={async (v) => {
					await post(`/access/tfa/${encodeURIComponent(v.userid)}`, { type: 'totp', ...v, userid: undefined });
					reload();
				}} />}
		</div>
	);
}

export function Pools() {
	return (
		<CrudGrid label="Pools" path="/pools" rowKey={(r) => r.poolid}
			columns={[{ key: 'poolid', label: 'Name' }, { key: 'comment', label: 'Comment' }]}
			createFields={[{ name: 'poolid', label: 'Name', required: true }, { name: 'comment', label: 'Comment' }]}
			editFields={[{ name: 'comment', label: 'Comment' }]} editPath={(r) => `/pools/${r.poolid}`}
			deletePath={(r) => `/pools/${r.poolid}`} />
	);
}

function Permissions() {
	return (
		<Tabs tabs={[
			{ id: 'acl', label: 'ACLs', render: () => <Acl /> },
			{ id: 'users', label: 'Users', render: () => <Users /> },
			{ id: 'tokens', label: 'API tokens', render: () => <Tokens /> },
			{ id: 'tfa', label: 'Two factor', render: () => <Tfa /> },
			{ id: 'groups', label: 'Groups', render: () => <Groups /> },
			{ id: 'roles', label: 'Roles', render: () => <Roles /> },
			{ id: 'realms', label: 'Realms', render: () => <Realms /> },
		]} />
	);
}

// datacenter.cfg: /cluster/options answers a property string as an object; it is shown and edited as
// the string Proxmox writes (key=value,...).
const KEYBOARDS = ['de', 'de-ch', 'da', 'en-gb', 'en-us', 'es', 'fi', 'fr', 'fr-be', 'fr-ca', 'fr-ch', 'hu', 'is',
	'it', 'ja', 'lt', 'mk', 'nl', 'no', 'pl', 'pt', 'pt-br', 'sv', 'sl', 'tr'];
const DC_FIELDS = [
	{ name: 'keyboard', label: 'Keyboard layout', type: 'select', options: KEYBOARDS },
	{ name: 'language', label: 'Language', type: 'select', options: ['en', 'de', 'fr', 'es', 'it', 'ja', 'nl', 'pl', 'sv', 'zh_CN'] },
	{ name: 'console', label: 'Console viewer', type: 'select', options: [['html5', 'noVNC'], ['xtermjs', 'xterm.js'], ['vv', 'SPICE'], ['applet', 'Java applet']] },
	{ name: 'http_proxy', label: 'HTTP proxy', placeholder: 'http://proxy:3128' },
	{ name: 'email_from', label: 'Email from address' },
	{ name: 'mac_prefix', label: 'MAC address prefix', placeholder: 'BC:24:11' },
	{ name: 'max_workers', label: 'Maximal workers/bulk-action', type: 'number', min: 1 },
	{ name: 'migration', label: 'Migration settings', placeholder: 'type=secure,network=CIDR' },
	{ name: 'next-id', label: 'Next free VMID range', placeholder: 'lower=100,upper=1000000' },
	{ name: 'bwlimit', label: 'Bandwidth limits', placeholder: 'clone=LIMIT,move=LIMIT,...' },
	{ name: 'tag-style', label: 'Tag style', placeholder: 'shape=circle,ordering=alphabetical' },
	{ name: 'description', label: 'Notes', type: 'textarea' },
];

function propString(v) {
	if (v === null || v === undefined || typeof v !== 'object') return v;
	return Object.entries(v).map(([k, x]) => `${k}=${x}`).join(',');
}

function Options() {
	const opts = useApi('/cluster/options');
	const ver = useApi('/version');
	const [edit, setEdit] = useState(false);
	const shown = {};
	for (const f of DC_FIELDS) shown[f.name] = propString((opts.data || {})[f.name]);
	return (
		<div>
			<Toolbar><button onClick={() => setEdit(true)} disabled={!opts.data}>Edit</button></Toolbar>
			<ErrorBox error={opts.error || ver.error} />
			<KV obj={shown} keys={DC_FIELDS.map((f) => [f.name, f.label,
				(v) => (v === undefined || v === '' ? '(default)' : String(v))])} />
			<KV obj={ver.data} />
			{edit && <FormDialog title="Datacenter options" fields={DC_FIELDS} initial={shown} wide
				onClose={() => setEdit(false)}
				onSubmit={async (v) => {
					// What was set and is now empty goes; the rest is sent as it is.
					const gone = DC_FIELDS.map((f) => f.name).filter((k) => shown[k] !== undefined && v[k] === undefined);
					await put('/cluster/options', gone.length ? { ...v, delete: gone.join(',') } : v);
					opts.reload();
				}} />}
		</div>
	);
}

export function DatacenterPanel({ resources }) {
	return (
		<Tabs tabs={[
			{ id: 'summary', label: 'Summary', render: () => <Summary resources={resources} /> },
			{ id: 'options', label: 'Options', render: () => <Options /> },
			{ id: 'storage', label: 'Storage', render: () => <Storage /> },
			{ id: 'perm', label: 'Permissions', render: () => <Permissions /> },
			{ id: 'pools', label: 'Pools', render: () => <Pools /> },
			{ id: 'fw', label: 'Firewall', render: () => <FirewallRules base="/cluster/firewall" /> },
			{ id: 'fwopt', label: 'Firewall options', render: () => <FirewallOptions base="/cluster/firewall" level="cluster" /> },
		]} />
	);
}
