// Guests (VMs and containers, which share Proxmox's shapes): summary, console, hardware/resources and
// options with pending changes, cloud-init, snapshots, firewall, task history; create, clone, template.
import { useEffect, useState } from 'preact/hooks';
import { api, del, get, post, put } from './api.js';
import { CrudGrid, FirewallOptions, FirewallRules } from './common.jsx';
import { Lazy } from './lazy.jsx';
import { runTask, showTask, TaskHistory } from './tasks.jsx';
import { Bar, Confirm, ErrorBox, FormDialog, Grid, KV, Spark, Tabs, Toolbar, fmtBytes, fmtPct, fmtUptime, useApi, useSamples } from './ui.jsx';

export const gbase = (type, node, vmid) => `/nodes/${encodeURIComponent(node)}/${type}/${vmid}`;

// The power actions a guest's state allows.
export function PowerButtons({ type, node, vmid, status, template, after }) {
	const b = gbase(type, node, vmid);
	const [err, setErr] = useState(null);
	const [ask, setAsk] = useState(null);
	const go = async (a) => {
		setErr(null);
		try { await runTask('POST', `${b}/status/${a}`); after && after(); } catch (e) { setErr(e); }
	};
	const running = status === 'running';
	return (
		<>
			<button disabled={running || template} onClick={() => go('start')}>Start</button>
			<button disabled={!running} onClick={() => setAsk('shutdown')}>Shutdown</button>
			<button disabled={!running} onClick={() => setAsk('stop')}>Stop</button>
			<button disabled={!running} onClick={() => go('reboot')}>Reboot</button>
			{type === 'qemu' && <button disabled={!running} onClick={() => go('reset')}>Reset</button>}
			<button disabled={!running} onClick={() => go('suspend')}>Pause</button>
			<button disabled={status !== 'paused' && !running} onClick={() => go('resume')}>Resume</button>
			{ask && <Confirm text={`${ask} ${vmid}?`} onClose={() => setAsk(null)} onYes={() => go(ask)} />}
			<ErrorBox error={err} />
		</>
	);
}

function Summary({ type, node, vmid }) {
	const b = gbase(type, node, vmid);
	const { data: s, error } = useApi(`${b}/status/current`, null, 3000);
	const cfg = useApi(`${b}/config`);
	const cpu = useSamples(s && s.status === 'running' ? s.cpu : undefined, s);
	const mem = useSamples(s && s.status === 'running' ? s.mem : undefined, s);
	useEffect(() => { if (s) performance.mark('guest-status'); }, [s]);
	return (
		<div class="summary">
			<ErrorBox error={error} />
			{s && <div class="cards">
				<div class="card"><h3>Status</h3><p data-testid="guest-status">{s.status}{s.qmpstatus && s.qmpstatus !== s.status ? ` (${s.qmpstatus})` : ''}</p></div>
				<div class="card"><h3>CPU</h3><p>{fmtPct(s.cpu)} of {s.cpus} CPU(s)</p><Bar value={s.cpu || 0} max={1} /></div>
				<div class="card"><h3>Memory</h3><p>{fmtBytes(s.mem)} / {fmtBytes(s.maxmem)}</p><Bar value={s.mem || 0} max={s.maxmem} /></div>
				<div class="card"><h3>Boot disk</h3><p>{fmtBytes(s.maxdisk)}</p></div>
				<div class="card"><h3>Uptime</h3><p>{fmtUptime(s.uptime)}</p></div>
				<div class="card"><h3>Name</h3><p>{s.name}</p></div>
				{s.lock && <div class="card"><h3>Lock</h3><p>{s.lock}</p></div>}
			</div>}
			{s && <div class="graphs">
				<Spark label="CPU" samples={cpu} max={1} fmt={fmtPct} />
				<Spark label="Memory" samples={mem} max={s.maxmem} fmt={fmtBytes} />
			</div>}
			{cfg.data && cfg.data.description && <div class="notes"><h3>Notes</h3><pre>{cfg.data.description}</pre></div>}
		</div>
	);
}

// Keys shown under Hardware (or Resources/Network for containers); the rest are options.
const HW_QEMU = /^(memory|balloon|sockets|cores|cpu|vcpus|numa|bios|machine|scsihw|vga|efidisk\d|tpmstate\d|(ide|sata|scsi|virtio|net|usb|hostpci|serial|parallel|unused|audio|rng)\d+)$/;
const HW_LXC = /^(memory|swap|cores|cpulimit|cpuunits|rootfs|mp\d+|unused\d+|net\d+|nameserver|searchdomain|hostname)$/;
const CI_KEYS = /^(ciuser|cipassword|citype|ciupgrade|cicustom|sshkeys|nameserver|searchdomain|ipconfig\d+)$/;

// Pending changes as Proxmox shows them: the new value in another colour, a pending delete struck through.
function PendingGrid({ type, node, vmid, filter, label, addKeys }) {
	const b = gbase(type, node, vmid);
	const { data, error, reload } = useApi(`${b}/pending`, null, 5000);
	const [sel, setSel] = useState(null);
	const [dlg, setDlg] = useState(null);
	const rows = (data || []).filter((r) => filter(r.key)).sort((a, b2) => (a.key < b2.key ? -1 : 1));
	const row = rows.find((r) => r.key === sel);
	const apply = async (params) => {
		// A VM's config is changed with a task when asked (POST), so a hot-plug's log can be read.
		const r = type === 'qemu' ? await post(`${b}/config`, params) : await put(`${b}/config`, params);
		showTask(r);
		reload();
	};
	return (
		<div>
			<Toolbar>
				<button onClick={() => setDlg('add')}>Add</button>
				<button disabled={!row} onClick={() => setDlg('edit')}>Edit</button>
				<button disabled={!row} onClick={() => setDlg('delete')}>Remove</button>
				<button disabled={!row || (row.pending === undefined && !row.delete)}
					onClick={() => apply({ revert: row.key }).catch(() => {})}>Revert</button>
				<button class="right" onClick={reload}>Reload</button>
			</Toolbar>
			<ErrorBox error={error} />
			<Grid label={label} rows={rows} rowKey={(r) => r.key} selected={sel} onSelect={setSel} onActivate={() => setDlg('edit')}
				columns={[{ key: 'key', label: 'Key', width: '10em' },
					{ key: 'value', label: 'Value', render: (v, r) => (
						<span>
							<span class={r.delete ? 'pending-del' : ''}>{v === undefined ? '' : String(v)}</span>
							{r.pending !== undefined && <span class="pending-new"> {String(r.pending)}</span>}
						</span>) }]} />
			{dlg === 'add' && <FormDialog title={`Add: ${label}`} onClose={() => setDlg(null)}
				fields={[{ name: 'key', label: 'Key', required: true, placeholder: addKeys },
					{ name: 'value', label: 'Value', required: true }]}
				onSubmit={(v) => apply({ [v.key]: v.value })} />}
			{dlg === 'edit' && row && <FormDialog title={`Edit: ${row.key}`} onClose={() => setDlg(null)}
				fields={[{ name: 'value', label: row.key, required: true }]}
				initial={{ value: row.pending !== undefined ? row.pending : row.value }}
				onSubmit={(v) => apply({ [row.key]: v.value })} />}
			{dlg === 'delete' && row && <Confirm text={`Remove ${row.key}?`} onClose={() => setDlg(null)}
				onYes={() => apply({ delete: row.key })} />}
		</div>
	);
}

function CloudInit({ node, vmid }) {
	const b = gbase('qemu', node, vmid);
	const [msg, setMsg] = useState(null);
	return (
		<div>
			<PendingGrid type="qemu" node={node} vmid={vmid} filter={(k) => CI_KEYS.test(k)} label="Cloud-Init"
				addKeys="ciuser, cipassword, sshkeys, ipconfig0, nameserver" />
			<Toolbar><button onClick={async () => {
				try { await put(`${b}/cloudinit`); setMsg('Image regenerated.'); } catch (e) { setMsg(e.detail || e.message); }
			}}>Regenerate image</button>{msg && <span class="note">{msg}</span>}</Toolbar>
		</div>
	);
}

function Snapshots({ type, node, vmid }) {
	const b = gbase(type, node, vmid);
	const [ask, setAsk] = useState(null);
	return (
		<>
			<CrudGrid label="Snapshots" path={`${b}/snapshot`} rowKey={(r) => r.name}
				rowsOf={(d) => (d || []).filter((s) => s.name !== 'current').concat((d || []).filter((s) => s.name === 'current'))}
				columns={[{ key: 'name', label: 'Name', render: (v) => (v === 'current' ? 'NOW' : v) },
					{ key: 'parent', label: 'Parent' },
					{ key: 'vmstate', label: 'RAM', render: (v) => (Number(v) ? 'Yes' : '') },
					{ key: 'snaptime', label: 'Date', render: (v) => (v ? new Date(v * 1000).toLocaleString() : '') },
					{ key: 'description', label: 'Description' }]}
				createFields={[{ name: 'snapname', label: 'Name', required: true },
					...(type === 'qemu' ? [{ name: 'vmstate', label: 'Include RAM', type: 'bool' }] : []),
					{ name: 'description', label: 'Description', type: 'textarea' }]}
				onCreated={showTask}
				editFields={[{ name: 'description', label: 'Description', type: 'textarea' }]}
				editGet={(r) => `${b}/snapshot/${r.name}/config`}
				editPath={(r) => `${b}/snapshot/${r.name}/config`}
				toolbar={(row, reload) => <>
					<button disabled={!row || row.name === 'current'} onClick={() => setAsk({ a: 'rollback', row, reload })}>Rollback</button>
					<button disabled={!row || row.name === 'current'} onClick={() => setAsk({ a: 'delete', row, reload })}>Delete</button>
				</>} />
			{ask && <Confirm text={`${ask.a === 'rollback' ? 'Roll back to' : 'Delete'} snapshot ${ask.row.name}?`}
				onClose={() => setAsk(null)}
				onYes={async () => {
					if (ask.a === 'rollback') await runTask('POST', `${b}/snapshot/${ask.row.name}/rollback`);
					else await runTask('DELETE', `${b}/snapshot/${ask.row.name}`);
					ask.reload();
					setTimeout(ask.reload, 1500);
				}} />}
		</>
	);
}

function MoreActions({ type, node, vmid, template, onSel }) {
	const b = gbase(type, node, vmid);
	const [dlg, setDlg] = useState(null);
	return (
		<>
			<button onClick={() => setDlg('clone')}>Clone</button>
			{!template && <button onClick={() => setDlg('template')}>Convert to template</button>}
			<button onClick={() => setDlg('remove')}>Remove</button>
			{dlg === 'clone' && <CloneDialog type={type} node={node} vmid={vmid} template={template} onClose={() => setDlg(null)} />}
			{dlg === 'template' && <Confirm text={`Convert ${vmid} into a template?`} onClose={() => setDlg(null)}
				onYes={() => runTask('POST', `${b}/template`)} />}
			{dlg === 'remove' && <FormDialog title={`Remove ${vmid}`} onClose={() => setDlg(null)} submitLabel="Remove"
				fields={[{ name: 'purge', label: 'Purge from jobs and ACLs', type: 'bool' },
					{ name: 'destroy-unreferenced-disks', label: 'Destroy unreferenced disks', type: 'bool' }]}
				initial={{ purge: 1, 'destroy-unreferenced-disks': 1 }}
				onSubmit={async (v) => { await runTask('DELETE', b, v); onSel('root'); }} />}
		</>
	);
}

function CloneDialog({ type, node, vmid, template, onClose }) {
	const next = useApi('/cluster/nextid');
	if (!next.data && !next.error) return null;
	return (
		<FormDialog title={`Clone ${vmid}`} onClose={onClose}
			fields={[{ name: 'newid', label: 'New VMID', type: 'number', required: true },
				{ name: type === 'qemu' ? 'name' : 'hostname', label: 'Name' },
				{ name: 'full', label: 'Full clone', type: 'bool' },
				{ name: 'storage', label: 'Target storage' }, { name: 'pool', label: 'Pool' },
				{ name: 'description', label: 'Description' }]}
			initial={{ newid: next.data, full: template ? 0 : 1 }}
			onSubmit={async (v) => showTask(await post(`${gbase(type, node, vmid)}/clone`, v))} />
	);
}

export function QemuPanel({ node, vmid, res, onSel }) {
	const b = gbase('qemu', node, vmid);
	return (
		<div>
			<Toolbar>
				<b class="title">VM {vmid}{res.name ? ` (${res.name})` : ''} on {node}</b>
				<PowerButtons type="qemu" node={node} vmid={vmid} status={res.status} template={!!res.template} />
				<MoreActions type="qemu" node={node} vmid={vmid} template={!!res.template} onSel={onSel} />
			</Toolbar>
			<Tabs tabs={[
				{ id: 'summary', label: 'Summary', render: () => <Summary type="qemu" node={node} vmid={vmid} /> },
				{ id: 'console', label: 'Console', render: () => <Lazy name="VncConsole" node={node} vmid={vmid} /> },
				{ id: 'serial', label: 'Serial console', render: () => <Lazy name="XtermConsole" kind="kvm" node={node} vmid={vmid} /> },
				{ id: 'hw', label: 'Hardware', render: () => <PendingGrid type="qemu" node={node} vmid={vmid} filter={(k) => HW_QEMU.test(k)}
					label="Hardware" addKeys="net1, scsi1, serial0, ..." /> },
				{ id: 'ci', label: 'Cloud-Init', render: () => <CloudInit node={node} vmid={vmid} /> },
				{ id: 'opt', label: 'Options', render: () => <PendingGrid type="qemu" node={node} vmid={vmid}
					filter={(k) => !HW_QEMU.test(k) && !CI_KEYS.test(k) && k !== 'digest'} label="Options" addKeys="onboot, agent, boot, ..." /> },
				{ id: 'snap', label: 'Snapshots', render: () => <Snapshots type="qemu" node={node} vmid={vmid} /> },
				{ id: 'fw', label: 'Firewall', render: () => <FirewallRules base={`${b}/firewall`} /> },
				{ id: 'fwopt', label: 'Firewall options', render: () => <FirewallOptions base={`${b}/firewall`} level="vm" /> },
				{ id: 'tasks', label: 'Task history', render: () => <TaskHistory node={node} vmid={vmid} /> },
			]} />
		</div>
	);
}

export function LxcPanel({ node, vmid, res, onSel }) {
	const b = gbase('lxc', node, vmid);
	return (
		<div>
			<Toolbar>
				<b class="title">CT {vmid}{res.name ? ` (${res.name})` : ''} on {node}</b>
				<PowerButtons type="lxc" node={node} vmid={vmid} status={res.status} template={!!res.template} />
				<MoreActions type="lxc" node={node} vmid={vmid} template={!!res.template} onSel={onSel} />
			</Toolbar>
			<Tabs tabs={[
				{ id: 'summary', label: 'Summary', render: () => <Summary type="lxc" node={node} vmid={vmid} /> },
				{ id: 'console', label: 'Console', render: () => <Lazy name="XtermConsole" kind="lxc" node={node} vmid={vmid} /> },
				{ id: 'res', label: 'Resources', render: () => <PendingGrid type="lxc" node={node} vmid={vmid}
					filter={(k) => /^(memory|swap|cores|cpulimit|cpuunits|rootfs|mp\d+|unused\d+)$/.test(k)} label="Resources" addKeys="mp0, ..." /> },
				{ id: 'net', label: 'Network', render: () => <PendingGrid type="lxc" node={node} vmid={vmid}
					filter={(k) => /^net\d+$/.test(k)} label="Network" addKeys="net1" /> },
				{ id: 'dns', label: 'DNS', render: () => <PendingGrid type="lxc" node={node} vmid={vmid}
					filter={(k) => /^(hostname|nameserver|searchdomain)$/.test(k)} label="DNS" addKeys="nameserver, searchdomain" /> },
				{ id: 'opt', label: 'Options', render: () => <PendingGrid type="lxc" node={node} vmid={vmid}
					filter={(k) => !HW_LXC.test(k) && k !== 'digest'} label="Options" addKeys="onboot, startup, features, ..." /> },
				{ id: 'snap', label: 'Snapshots', render: () => <Snapshots type="lxc" node={node} vmid={vmid} /> },
				{ id: 'tasks', label: 'Task history', render: () => <TaskHistory node={node} vmid={vmid} /> },
			]} />
		</div>
	);
}

// Volumes of one content type on a node's storages, for the wizards' selects.
function useVolumes(node, content) {
	const st = useApi(`/nodes/${node}/storage`, { content });
	const [vols, setVols] = useState(null);
	if (st.data && vols === null) {
		setVols([]);
		Promise.all(st.data.map((s) => get(`/nodes/${node}/storage/${s.storage}/content`, { content }).catch(() => [])))
			.then((l) => setVols(l.flat().map((v) => v.volid)));
	}
	return { storages: (st.data || []).map((s) => s.storage), vols: vols || [] };
}

export function CreateVm({ node, onClose, onSel }) {
	const next = useApi('/cluster/nextid');
	const iso = useVolumes(node, 'iso');
	const img = useVolumes(node, 'images');
	const bridge = useFirstBridge(node);
	if (!next.data || bridge === undefined) return null;
	return (
		<FormDialog title="Create: virtual machine" onClose={onClose} submitLabel="Create" wide
			fields={[
				{ name: 'vmid', label: 'VM ID', type: 'number', required: true },
				{ name: 'name', label: 'Name' },
				{ name: 'iso', label: 'ISO image', type: 'select', options: iso.vols, emptyLabel: '(no media)' },
				{ name: 'ostype', label: 'Guest OS', type: 'select', options: ['l26', 'win11', 'win10', 'other'] },
				{ name: 'storage', label: 'Disk storage', type: 'select', options: img.storages, emptyLabel: '(no disk)' },
				{ name: 'disksize', label: 'Disk size (GiB)', type: 'number' },
				{ name: 'cores', label: 'Cores', type: 'number' },
				{ name: 'memory', label: 'Memory (MiB)', type: 'number' },
				{ name: 'net', label: 'Network (net0)' },
				{ name: 'cloudinit', label: 'Cloud-init drive', type: 'bool' },
				{ name: 'ciuser', label: 'Cloud-init user' },
				{ name: 'cipassword', label: 'Cloud-init password', type: 'password' },
				{ name: 'start', label: 'Start after created', type: 'bool' },
			]}
			initial={{ vmid: next.data, ostype: 'l26', cores: 1, memory: 512, disksize: 1,
				net: bridge ? `virtio,bridge=${bridge}` : '' }}
			onSubmit={async (v) => {
				const p = { vmid: v.vmid, name: v.name, ostype: v.ostype, cores: v.cores, memory: v.memory, start: v.start };
				if (v.iso) p.ide2 = `${v.iso},media=cdrom`;
				if (v.storage) p.scsi0 = `${v.storage}:${v.disksize || 1}`;
				if (v.net) p.net0 = v.net;
				if (v.cloudinit) {
					p.ide0 = `${v.storage || img.storages[0]}:cloudinit`;
					p.ciuser = v.ciuser;
					p.cipassword = v.cipassword;
				}
				if (v.iso || v.storage) p.boot = `order=${[v.storage && 'scsi0', v.iso && 'ide2'].filter(Boolean).join(';')}`;
				showTask(await post(`/nodes/${node}/qemu`, p));
				onSel && onSel(`qemu/${v.vmid}`);
			}} />
	);
}

export function CreateCt({ node, onClose, onSel }) {
	const next = useApi('/cluster/nextid');
	const tpl = useVolumes(node, 'vztmpl');
	const rootdir = useVolumes(node, 'rootdir');
	const bridge = useFirstBridge(node);
	if (!next.data || bridge === undefined) return null;
	return (
		<FormDialog title="Create: container" onClose={onClose} submitLabel="Create" wide
			fields={[
				{ name: 'vmid', label: 'CT ID', type: 'number', required: true },
				{ name: 'hostname', label: 'Hostname' },
				{ name: 'password', label: 'Root password', type: 'password' },
				{ name: 'ssh-public-keys', label: 'SSH public keys', type: 'textarea' },
				{ name: 'ostemplate', label: 'Template', type: 'select', options: tpl.vols, required: true },
				{ name: 'oci', label: 'or pull an OCI image (e.g. docker.io/library/busybox:latest)' },
				{ name: 'storage', label: 'Root disk storage', type: 'select', options: rootdir.storages },
				{ name: 'disksize', label: 'Disk size (GiB)', type: 'number' },
				{ name: 'cores', label: 'Cores', type: 'number' },
				{ name: 'memory', label: 'Memory (MiB)', type: 'number' },
				{ name: 'swap', label: 'Swap (MiB)', type: 'number' },
				{ name: 'net0', label: 'Network (net0)' },
				{ name: 'nameserver', label: 'DNS server' },
				{ name: 'unprivileged', label: 'Unprivileged', type: 'bool' },
				{ name: 'start', label: 'Start after created', type: 'bool' },
			]}
			initial={{ vmid: next.data, cores: 1, memory: 512, swap: 512, disksize: 1, unprivileged: 1,
				net0: bridge ? `name=eth0,bridge=${bridge},ip=dhcp` : '' }}
			onSubmit={async (v) => {
				const p = { ...v };
				// (a field left empty is the server's default, not an empty value)
				for (const k of Object.keys(p)) if (p[k] === '' || p[k] === undefined) delete p[k];
				delete p.disksize;
				delete p.oci;
				delete p.storage;
				if (v.oci) {
					// Proxmox's way: the image is pulled into a storage as a template first.
					const st = tpl.storages[0];
					if (!st) throw new Error('no storage for container templates');
					const filename = ociFilename(v.oci);
					const upid = await post(`/nodes/${node}/storage/${st}/oci-registry-pull`, { reference: v.oci, filename });
					showTask(upid);
					await waitTask(node, upid);
					p.ostemplate = `${st}:vztmpl/${filename}`;
				}
				p.rootfs = `${v.storage || rootdir.storages[0]}:${v.disksize || 1}`;
				showTask(await post(`/nodes/${node}/lxc`, p));
				onSel && onSel(`lxc/${v.vmid}`);
			}} />
	);
}

// The node's first bridge for a new guest's NIC (null: the node has none, and the NIC is left out, as
// a create naming a bridge that does not exist is refused); undefined while the list loads.
function useFirstBridge(node) {
	const br = useApi(`/nodes/${node}/network`, { type: 'any_bridge' });
	if (br.loading) return undefined;
	const names = (br.data || []).map((i) => i.iface).sort();
	return names.includes('vmbr0') ? 'vmbr0' : names[0] || null;
}

// The template's name for an OCI reference: "docker.io/library/busybox:latest" -> "busybox_latest.tar".
export function ociFilename(ref) {
	const last = ref.split('/').pop().replace(/@.*/, '');
	return `${last.replace(':', '_').replace(/[^A-Za-z0-9._-]/g, '_')}.tar`;
}

// Waits for a task to stop; fails with its exit status unless OK.
export async function waitTask(node, upid) {
	for (;;) {
		const st = await get(`/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
		if (st.status !== 'running') {
			if (st.exitstatus !== 'OK') throw new Error(`task failed: ${st.exitstatus}`);
			return st;
		}
		await new Promise((r) => setTimeout(r, 1000));
	}
}

// Bulk start and stop of a node's guests (Proxmox's startall/stopall, optionally for chosen VMIDs).
export function BulkDialog({ node, action, guests, onClose }) {
	const [chosen, setChosen] = useState(() => new Set(guests.map((g) => g.vmid)));
	const [err, setErr] = useState(null);
	const toggle = (id) => setChosen((s) => { const n = new Set(s); n.has(id) ? n.delete(id) : n.add(id); return n; });
	return (
		<div class="modal-back"><div class="modal wide" role="dialog" aria-label={`Bulk ${action}`}>
			<div class="modal-title">Bulk {action}<button class="close" onClick={onClose}>×</button></div>
			<div class="modal-body">
				<div class="grid" style="max-height:50vh"><table><tbody>{guests.map((g) => (
					<tr><td><label><input type="checkbox" checked={chosen.has(g.vmid)} onChange={() => toggle(g.vmid)} />
						{' '}{g.vmid} {g.name} ({g.type}, {g.status})</label></td></tr>))}</tbody></table></div>
				<ErrorBox error={err} />
				<div class="buttons">
					<button class="primary" onClick={async () => {
						try {
							showTask(await post(`/nodes/${node}/${action}all`, { vms: [...chosen].join(','), ...(action === 'start' ? { force: 1 } : {}) }));
							onClose();
						} catch (e) { setErr(e); }
					}}>{action}</button>
					<button onClick={onClose}>Cancel</button>
				</div>
			</div>
		</div></div>
	);
}

export { del };
