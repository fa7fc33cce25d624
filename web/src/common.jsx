// Panels shared by the datacenter, node and guest views: a generic list with create, edit and delete,
// the firewall (rules and options) of any level.
import { useState } from 'preact/hooks';
import { api, del, get, post, put } from './api.js';
import { Confirm, ErrorBox, FormDialog, Grid, KV, Toolbar, useApi } from './ui.jsx';

// A list from `path` with dialogs. createFields/editFields are FormDialog fields; edit loads the row's
// current values from editGet(row) when given.
export function CrudGrid({ label, path, query, rowKey, columns, createFields, createPath, createMethod = 'POST',
	editFields, editPath, editGet, editMethod = 'PUT', deletePath, deleteParams, toolbar, every, rowsOf,
	createInitial, onCreated, createParams }) {
	const { data, error, reload } = useApi(path, query, every);
	const [sel, setSel] = useState(null);
	const [dlg, setDlg] = useState(null);
	const rows = rowsOf ? rowsOf(data) : data;
	const row = (rows || []).find((r) => rowKey(r) === sel);
	const openEdit = async (r) => {
		if (!editFields) return;
		let init = r;
		try {
			if (editGet) init = { ...r, ...(await get(editGet(r))) };
		} catch (e) { /* the row itself, then */ }
		setDlg({ kind: 'edit', row: r, init });
	};
	const fields = (f, r) => (typeof f === 'function' ? f(r) : f);
	return (
		<div class="crud">
			<Toolbar>
				{createFields && <button onClick={() => setDlg({ kind: 'create' })}>Add</button>}
				{editFields && <button disabled={!row} onClick={() => openEdit(row)}>Edit</button>}
				{deletePath && <button disabled={!row} onClick={() => setDlg({ kind: 'delete', row })}>Remove</button>}
				{toolbar && toolbar(row, reload)}
				<button onClick={reload} class="right">Reload</button>
			</Toolbar>
			<ErrorBox error={error} />
			<Grid label={label} columns={columns} rows={rows} rowKey={rowKey} selected={sel} onSelect={setSel}
				onActivate={openEdit} />
			{dlg && dlg.kind === 'create' && (
				<FormDialog title={`Add: ${label}`} fields={fields(createFields)} initial={createInitial || {}}
					onClose={() => setDlg(null)}
					onSubmit={async (v, all) => {
						const r = await api(createMethod, typeof createPath === 'function' ? createPath(v, all) : createPath || path,
							createParams ? createParams(v) : v);
						reload();
						onCreated && onCreated(r, v);
					}} />
			)}
			{dlg && dlg.kind === 'edit' && (
				<FormDialog title={`Edit: ${label}`} fields={fields(editFields, dlg.row)} initial={dlg.init}
					onClose={() => setDlg(null)}
					onSubmit={async (v) => { await api(editMethod, editPath(dlg.row), v); reload(); }} />
			)}
			{dlg && dlg.kind === 'delete' && (
				<Confirm text={`Remove ${rowKey(dlg.row)}?`} onClose={() => setDlg(null)}
					onYes={async () => {
						await del(deletePath(dlg.row), deleteParams ? deleteParams(dlg.row) : undefined);
						setSel(null);
						reload();
					}} />
			)}
		</div>
	);
}

const RULE_FIELDS = [
	{ name: 'type', label: 'Direction', type: 'select', required: true, options: ['in', 'out', 'group'] },
	{ name: 'action', label: 'Action', required: true, placeholder: 'ACCEPT, DROP, REJECT or a group' },
	{ name: 'enable', label: 'Enable', type: 'bool' },
	{ name: 'macro', label: 'Macro' },
	{ name: 'iface', label: 'Interface' },
	{ name: 'proto', label: 'Protocol' },
	{ name: 'source', label: 'Source' },
	{ name: 'sport', label: 'Source port' },
	{ name: 'dest', label: 'Destination' },
	{ name: 'dport', label: 'Dest. port' },
	{ name: 'log', label: 'Log level', type: 'select', options: ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug', 'nolog'] },
	{ name: 'comment', label: 'Comment' },
];

export function FirewallRules({ base }) {
	return (
		<CrudGrid label="Firewall rules" path={`${base}/rules`} rowKey={(r) => String(r.pos)}
			columns={[
				{ key: 'pos', label: '#', width: '3em' },
				{ key: 'enable', label: 'On', render: (v) => (Number(v) ? '✓' : '') },
				{ key: 'type', label: 'Direction' },
				{ key: 'action', label: 'Action' },
				{ key: 'macro', label: 'Macro' },
				{ key: 'proto', label: 'Protocol' },
				{ key: 'source', label: 'Source' },
				{ key: 'dest', label: 'Destination' },
				{ key: 'dport', label: 'Dest. port' },
				{ key: 'comment', label: 'Comment' },
			]}
			createFields={RULE_FIELDS} createInitial={{ type: 'in', action: 'ACCEPT', enable: 1 }}
			editFields={RULE_FIELDS} editPath={(r) => `${base}/rules/${r.pos}`}
			deletePath={(r) => `${base}/rules/${r.pos}`} />
	);
}

export function OptionsPanel({ path, fields, label = 'Options' }) {
	const { data, error, reload } = useApi(path);
	const [edit, setEdit] = useState(false);
	return (
		<div>
			<Toolbar><button onClick={() => setEdit(true)} disabled={!data}>Edit</button></Toolbar>
			<ErrorBox error={error} />
			<KV obj={data || {}} keys={fields.map((f) => [f.name, f.label || f.name,
				f.type === 'bool' ? (v) => (v === undefined ? '(default)' : Number(v) ? 'Yes' : 'No') : undefined])} />
			{edit && <FormDialog title={label} fields={fields} initial={data || {}} onClose={() => setEdit(false)}
				onSubmit={async (v) => { await put(path, v); reload(); }} />}
		</div>
	);
}

const POLICY = ['ACCEPT', 'DROP', 'REJECT'];
export function FirewallOptions({ base, level }) {
	const f = [{ name: 'enable', label: 'Firewall', type: 'bool' }];
	if (level !== 'node') f.push({ name: 'policy_in', label: 'Input policy', type: 'select', options: POLICY },
		{ name: 'policy_out', label: 'Output policy', type: 'select', options: POLICY });
	if (level === 'vm') f.push({ name: 'macfilter', label: 'MAC filter', type: 'bool' },
		{ name: 'ipfilter', label: 'IP filter', type: 'bool' }, { name: 'dhcp', label: 'DHCP', type: 'bool' });
	if (level === 'cluster') f.push({ name: 'ebtables', label: 'ebtables', type: 'bool' });
	if (level === 'node') f.push({ name: 'nosmurfs', label: 'SMURFS filter', type: 'bool' },
		{ name: 'tcpflags', label: 'TCP flags filter', type: 'bool' });
	return <OptionsPanel path={`${base}/options`} fields={f} label="Firewall options" />;
}

export { post };
