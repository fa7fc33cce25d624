// The content panel: what the tree's selection is.
import { useState } from 'preact/hooks';
import { put } from './api.js';
import { DatacenterPanel } from './dc.jsx';
import { BulkDialog, CreateCt, CreateVm, LxcPanel, QemuPanel } from './guest.jsx';
import { NodePanel, StoragePanel } from './node.jsx';
import { ErrorBox, FormDialog, Grid, Tabs, Toolbar, fmtBytes, fmtPct, useApi } from './ui.jsx';

function PoolPanel({ pool }) {
	const { data, error, reload } = useApi(`/pools/${encodeURIComponent(pool)}`, null, 5000);
	const [add, setAdd] = useState(false);
	return (
		<div>
			<h2>Pool {pool}</h2>
			<p>{data && data.comment}</p>
			<Toolbar><button onClick={() => setAdd(true)}>Add members</button></Toolbar>
			<ErrorBox error={error} />
			<Grid label="Members" rows={data && data.members} rowKey={(r) => r.id}
				columns={[{ key: 'id', label: 'ID' }, { key: 'type', label: 'Type' }, { key: 'name', label: 'Name' },
					{ key: 'status', label: 'Status' }, { key: 'node', label: 'Node' }]} />
			{add && <FormDialog title={`Add to ${pool}`} onClose={() => setAdd(false)}
				fields={[{ name: 'vms', label: 'VMIDs (comma separated)' }, { name: 'storage', label: 'Storages (comma separated)' }]}
				onSubmit={async (v) => { await put(`/pools/${encodeURIComponent(pool)}`, v); reload(); }} />}
		</div>
	);
}

function NodeHeader({ node, resources, onSel }) {
	const [dlg, setDlg] = useState(null);
	const guests = resources.filter((r) => r.node === node && (r.type === 'qemu' || r.type === 'lxc') && !r.template);
	return (
		<Toolbar>
			<b class="title">Node {node}</b>
			<button onClick={() => setDlg('vm')}>Create VM</button>
			<button onClick={() => setDlg('ct')}>Create CT</button>
			<button onClick={() => setDlg('start')}>Bulk start</button>
			<button onClick={() => setDlg('stop')}>Bulk stop</button>
			{dlg === 'vm' && <CreateVm node={node} onClose={() => setDlg(null)} onSel={onSel} />}
			{dlg === 'ct' && <CreateCt node={node} onClose={() => setDlg(null)} onSel={onSel} />}
			{(dlg === 'start' || dlg === 'stop') && <BulkDialog node={node} action={dlg} onClose={() => setDlg(null)}
				guests={guests.filter((g) => (dlg === 'start' ? g.status !== 'running' : g.status === 'running'))} />}
		</Toolbar>
	);
}

export function Content({ item, resources, onSel }) {
	switch (item.type) {
	case 'node':
		return <div><NodeHeader node={item.node} resources={resources} onSel={onSel} /><NodePanel node={item.node} onSel={onSel} /></div>;
	case 'qemu':
		return <QemuPanel node={item.node} vmid={item.vmid} res={item} onSel={onSel} />;
	case 'lxc':
		return <LxcPanel node={item.node} vmid={item.vmid} res={item} onSel={onSel} />;
	case 'storage':
		return <div><Toolbar><b class="title">Storage {item.storage} on {item.node}</b></Toolbar>
			<StoragePanel node={item.node} storage={item.storage} /></div>;
	case 'pool':
		return <PoolPanel pool={item.pool} />;
	default:
		return <DatacenterPanel resources={resources} />;
	}
}

export { Tabs, fmtBytes, fmtPct };
