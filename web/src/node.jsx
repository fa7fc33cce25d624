// A node: summary with live graphs, shell, network (edit, apply, revert), firewall, tasks, and a
// storage's content with upload and download-url.
import { useState } from 'preact/hooks';
import { api, del, post, put, upload } from './api.js';
import { CrudGrid, FirewallOptions, FirewallRules } from './common.jsx';
import { Lazy } from './lazy.jsx';
import { showTask, TaskHistory } from './tasks.jsx';
import { Bar, Confirm, ErrorBox, FormDialog, Grid, KV, Spark, Tabs, Toolbar, fmtBytes, fmtPct, fmtTime, fmtUptime, useApi, useSamples } from './ui.jsx';

function Summary({ node }) {
	const { data: s, error } = useApi(`/nodes/${node}/status`, null, 3000);
	const cpu = useSamples(s && s.cpu, s);
	const mem = useSamples(s && s.memory && s.memory.used, s);
	if (error && error.status === 403)
		return <p class="notice" data-testid="no-audit">You lack Sys.Audit on this node: no figures to show.</p>;
	return (
		<div class="summary">
			<ErrorBox error={error} />
			{s && (
				<div class="cards" data-testid="node-figures">
					<div class="card"><h3>CPU usage</h3><p>{fmtPct(s.cpu)} of {s.cpuinfo && s.cpuinfo.cpus} CPU(s)</p><Bar value={s.cpu} max={1} /></div>
					<div class="card"><h3>Memory</h3><p>{fmtBytes(s.memory.used)} / {fmtBytes(s.memory.total)}</p><Bar value={s.memory.used} max={s.memory.total} /></div>
					<div class="card"><h3>Root disk</h3><p>{s.rootfs && `${fmtBytes(s.rootfs.used)} / ${fmtBytes(s.rootfs.total)}`}</p>
						{s.rootfs && <Bar value={s.rootfs.used} max={s.rootfs.total} />}</div>
					<div class="card"><h3>Uptime</h3><p>{fmtUptime(s.uptime)}</p></div>
					<div class="card"><h3>Load average</h3><p>{(s.loadavg || []).join(', ')}</p></div>
					<div class="card"><h3>KVM</h3><p>{s.kvm || '-'}{s['kvm-percent'] !== undefined ? ` (${Number(s['kvm-percent']).toPrecision(2)}% of native)` : ''}</p></div>
					<div class="card wide"><h3>CPU model</h3><p>{s.cpuinfo && s.cpuinfo.model}</p></div>
					<div class="card wide"><h3>Kernel</h3><p>{s.kversion}</p></div>
					<div class="card"><h3>Version</h3><p>{s.pveversion}</p></div>
				</div>
			)}
			{s && <div class="graphs">
				<Spark label="CPU" samples={cpu} max={1} fmt={fmtPct} />
				<Spark label="Memory" samples={mem} max={s.memory.total} fmt={fmtBytes} />
			</div>}
		</div>
	);
}

const IFACE_TYPES = ['bridge', 'eth', 'alias', 'vlan', 'bond', 'OVSBridge'];
function Network({ node }) {
	const base = `/nodes/${node}/network`;
	const { data: whole, error, reload } = useApi(base, null, null, { whole: true });
	const data = whole && whole.data;
	const changes = whole && whole.changes;
	const [sel, setSel] = useState(null);
	const [dlg, setDlg] = useState(null);
	const [err, setErr] = useState(null);
	const row = (data || []).find((r) => r.iface === sel);
	const f = [
		{ name: 'cidr', label: 'IPv4/CIDR' }, { name: 'gateway', label: 'Gateway (IPv4)' },
		{ name: 'cidr6', label: 'IPv6/CIDR' }, { name: 'gateway6', label: 'Gateway (IPv6)' },
		{ name: 'autostart', label: 'Autostart', type: 'bool' },
		{ name: 'bridge_ports', label: 'Bridge ports' }, { name: 'bridge_vlan_aware', label: 'VLAN aware', type: 'bool' },
		{ name: 'mtu', label: 'MTU', type: 'number' }, { name: 'comments', label: 'Comment' },
	];
	const act = async (fn) => {
		setErr(null);
		try { showTask(await fn()); reload(); } catch (e) { setErr(e); }
	};
	return (
		<div>
			<Toolbar>
				<button onClick={() => setDlg('create')}>Create</button>
				<button disabled={!row} onClick={() => setDlg('edit')}>Edit</button>
				<button disabled={!row} onClick={() => setDlg('delete')}>Remove</button>
				<button onClick={() => act(() => put(base))}>Apply configuration</button>
				<button onClick={() => act(() => del(base))}>Revert</button>
				<button class="right" onClick={reload}>Reload</button>
			</Toolbar>
			<ErrorBox error={error || err} />
			<Grid label="Network" rows={data} rowKey={(r) => r.iface} selected={sel} onSelect={setSel}
				onActivate={() => setDlg('edit')}
				columns={[{ key: 'iface', label: 'Name' }, { key: 'type', label: 'Type' },
					{ key: 'active', label: 'Active', render: (v) => (Number(v) ? 'Yes' : 'No') },
					{ key: 'autostart', label: 'Autostart', render: (v) => (Number(v) ? 'Yes' : 'No') },
					{ key: 'bridge_ports', label: 'Ports/Slaves', render: (v, r) => v || r.slaves || '' },
					{ key: 'cidr', label: 'CIDR' }, { key: 'gateway', label: 'Gateway' },
					{ key: 'comments', label: 'Comment' }]} />
			{changes && <><h4>Pending changes (apply or revert)</h4><pre class="pending-diff" data-testid="network-changes">{changes}</pre></>}
			{dlg === 'create' && <FormDialog title="Create interface" onClose={() => setDlg(null)}
				fields={[{ name: 'iface', label: 'Name', required: true },
					{ name: 'type', label: 'Type', type: 'select', required: true, options: IFACE_TYPES }, ...f]}
				initial={{ type: 'bridge', autostart: 1 }}
				onSubmit={async (v) => { await post(base, v); reload(); }} />}
			{dlg === 'edit' && row && <FormDialog title={`Edit ${row.iface}`} onClose={() => setDlg(null)}
				fields={f} initial={row}
				onSubmit={async (v) => { await put(`${base}/${row.iface}`, { type: row.type, ...v }); reload(); }} />}
			{dlg === 'delete' && row && <Confirm text={`Remove ${row.iface}?`} onClose={() => setDlg(null)}
				onYes={async () => { await del(`${base}/${row.iface}`); setSel(null); reload(); }} />}
		</div>
	);
}

// A storage's content on a node, with upload (a progress bar) and download from a URL.
export function StorageContent({ node, storage }) {
	const base = `/nodes/${node}/storage/${storage}`;
	const st = useApi(`${base}/status`, null, 10000);
	const { data, error, reload } = useApi(`${base}/content`);
	const [sel, setSel] = useState(null);
	const [dlg, setDlg] = useState(null);
	const [prog, setProg] = useState(null);
	const [err, setErr] = useState(null);
	const content = ((st.data && st.data.content) || '').split(',');
	const up = content.filter((c) => ['iso', 'vztmpl', 'import'].includes(c));
	const row = (data || []).find((r) => r.volid === sel);
	const doUpload = async (file, ctype, checksum, algo) => {
		setErr(null);
		setProg(0);
		try {
			const r = await upload(`${base}/upload`, { content: ctype, checksum, 'checksum-algorithm': algo }, file, setProg);
			setProg(1);
			showTask(r);
			reload();
		} catch (e) {
			setErr(e);
		} finally {
			setTimeout(() => setProg(null), 1500);
		}
	};
	return (
		<div>
			{st.data && <p class="usage">Usage: {fmtBytes(st.data.used)} of {fmtBytes(st.data.total)}
				<Bar value={st.data.used} max={st.data.total} /> ({st.data.type}; {st.data.content})</p>}
			<Toolbar>
				<button disabled={!up.length} onClick={() => setDlg('upload')}>Upload</button>
				<button disabled={!up.length} onClick={() => setDlg('url')}>Download from URL</button>
				<button disabled={!content.includes('vztmpl')} onClick={() => setDlg('oci')}>Pull from OCI registry</button>
				<button disabled={!row} onClick={() => setDlg('delete')}>Remove</button>
				<button class="right" onClick={reload}>Reload</button>
			</Toolbar>
			{prog !== null && <div class="progress" role="progressbar" aria-valuenow={Math.round(prog * 100)} aria-valuemin="0" aria-valuemax="100">
				<span style={`width:${(prog * 100).toFixed(1)}%`} /><b>{(prog * 100).toFixed(0)}%</b></div>}
			<ErrorBox error={error || err || st.error} />
			<Grid label="Content" rows={data} rowKey={(r) => r.volid} selected={sel} onSelect={setSel}
				columns={[{ key: 'volid', label: 'Name' }, { key: 'content', label: 'Type' }, { key: 'format', label: 'Format' },
					{ key: 'size', label: 'Size', render: fmtBytes }, { key: 'ctime', label: 'Date', render: fmtTime },
					{ key: 'vmid', label: 'VMID' }]} />
			{dlg === 'upload' && <UploadDialog types={up} onClose={() => setDlg(null)} onUpload={doUpload} />}
			{dlg === 'url' && <FormDialog title="Download from URL" onClose={() => setDlg(null)}
				fields={[{ name: 'url', label: 'URL', required: true }, { name: 'filename', label: 'File name', required: true },
					{ name: 'content', label: 'Content', type: 'select', required: true, options: up },
					{ name: 'checksum', label: 'Checksum' },
					{ name: 'checksum-algorithm', label: 'Algorithm', type: 'select', options: ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] },
					{ name: 'verify-certificates', label: 'Verify certificates', type: 'bool' }]}
				initial={{ content: up[0], 'verify-certificates': 1 }}
				onSubmit={async (v) => { showTask(await post(`${base}/download-url`, v)); reload(); }} />}
			{dlg === 'oci' && <FormDialog title="Pull from OCI registry" onClose={() => setDlg(null)}
				fields={[{ name: 'reference', label: 'Reference', required: true, placeholder: 'docker.io/library/busybox:latest' },
					{ name: 'filename', label: 'File name' }]}
				onSubmit={async (v) => { showTask(await post(`${base}/oci-registry-pull`, v)); reload(); }} />}
			{dlg === 'delete' && row && <Confirm text={`Remove ${row.volid}?`} onClose={() => setDlg(null)}
				onYes={async () => { showTask(await del(`${base}/content/${encodeURIComponent(row.volid)}`)); setSel(null); reload(); }} />}
		</div>
	);
}

function UploadDialog({ types, onClose, onUpload }) {
	const [file, setFile] = useState(null);
	const [ctype, setCtype] = useState(types[0]);
	const [sum, setSum] = useState('');
	const [algo, setAlgo] = useState('sha256');
	return (
		<FormDialog title="Upload" onClose={onClose} submitLabel="Upload"
			fields={[{ name: 'content', label: 'Content', type: 'static' }]} initial={{ content: '' }}
			extra={<>
				<label class="field"><span>Content</span><select name="content" value={ctype} onChange={(e) => setCtype(e.target.value)}>
					{types.map((t) => <option>{t}</option>)}</select></label>
				<label class="field"><span>File</span><input type="file" name="file" required onChange={(e) => setFile(e.target.files[0])} /></label>
				<label class="field"><span>Checksum</span><input name="checksum" value={sum} onInput={(e) => setSum(e.target.value)} /></label>
				<label class="field"><span>Algorithm</span><select value={algo} onChange={(e) => setAlgo(e.target.value)}>
					{['md5', 'sha1', 'sha256', 'sha512'].map((a) => <option>{a}</option>)}</select></label>
			</>}
			onSubmit={async () => {
				if (!file) throw new Error('choose a file');
				// The dialog closes; the progress bar stays on the panel until the upload ends.
				onUpload(file, ctype, sum || undefined, sum ? algo : undefined);
			}} />
	);
}

function NodeStorages({ node, onSel }) {
	const { data, error } = useApi(`/nodes/${node}/storage`, null, 10000);
	return (
		<div>
			<ErrorBox error={error} />
			<Grid label="Storage" rows={data} rowKey={(r) => r.storage} onActivate={(r) => onSel(`storage/${node}/${r.storage}`)}
				columns={[{ key: 'storage', label: 'ID' }, { key: 'type', label: 'Type' }, { key: 'content', label: 'Content' },
					{ key: 'used', label: 'Usage', render: (v, r) => (r.total ? <>{fmtBytes(v)} / {fmtBytes(r.total)} <Bar value={v} max={r.total} /></> : '') },
					{ key: 'active', label: 'Active', render: (v) => (Number(v) ? 'Yes' : 'No') }]} />
		</div>
	);
}

export function NodePanel({ node, onSel }) {
	return (
		<Tabs tabs={[
			{ id: 'summary', label: 'Summary', render: () => <Summary node={node} /> },
			{ id: 'shell', label: 'Shell', render: () => <Lazy name="XtermConsole" kind="shell" node={node} /> },
			{ id: 'network', label: 'Network', render: () => <Network node={node} /> },
			{ id: 'storage', label: 'Storage', render: () => <NodeStorages node={node} onSel={onSel} /> },
			{ id: 'fw', label: 'Firewall', render: () => <FirewallRules base={`/nodes/${node}/firewall`} /> },
			{ id: 'fwopt', label: 'Firewall options', render: () => <FirewallOptions base={`/nodes/${node}/firewall`} level="node" /> },
			{ id: 'tasks', label: 'Task history', render: () => <TaskHistory node={node} /> },
		]} />
	);
}

export function StoragePanel({ node, storage }) {
	return (
		<Tabs tabs={[
			{ id: 'content', label: 'Content', render: () => <StorageContent node={node} storage={storage} /> },
			{ id: 'summary', label: 'Summary', render: () => <StorageSummary node={node} storage={storage} /> },
		]} />
	);
}

function StorageSummary({ node, storage }) {
	const { data, error } = useApi(`/nodes/${node}/storage/${storage}/status`, null, 5000);
	const used = useSamples(data && data.used, data);
	return (
		<div>
			<ErrorBox error={error} />
			<KV obj={data} />
			{data && <Spark label="Usage" samples={used} max={data.total} fmt={fmtBytes} />}
		</div>
	);
}

export { api };
