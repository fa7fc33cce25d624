// The task list at the bottom and the task viewer: a task's log followed while it runs.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get, del } from './api.js';
import { Dialog, ErrorBox, Grid, Tabs, KV, fmtTime, useApi } from './ui.jsx';

// Which node a UPID belongs to: UPID:node:pid:pstart:starttime:type:id:user:
export const upidNode = (upid) => String(upid).split(':')[1];

let opener = () => {};
export function showTask(upid) { if (upid && String(upid).startsWith('UPID:')) opener(upid); }

export function TaskHost() {
	const [upids, setUpids] = useState([]);
	opener = (u) => setUpids((l) => (l.includes(u) ? l : [...l, u]));
	return upids.map((u) => <TaskViewer upid={u} onClose={() => setUpids((l) => l.filter((x) => x !== u))} />);
}

export function TaskLog({ upid, onStatus }) {
	const node = upidNode(upid);
	const base = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}`;
	const [lines, setLines] = useState([]);
	const [err, setErr] = useState(null);
	const pre = useRef();
	useEffect(() => {
		let start = 0, stop = false, timer = null, all = [];
		const tick = async () => {
			try {
				const st = await get(base + '/status');
				// Read the log after the status: a stopped task's log is complete by then.
				for (;;) {
					const l = await get(base + '/log', { start, limit: 500 });
					if (!l || !l.length) break;
					all = all.concat(l.map((x) => x.t));
					start += l.length;
					if (l.length < 500) break;
				}
				if (stop) return;
				setLines(all);
				onStatus && onStatus(st);
				if (st.status === 'running') timer = setTimeout(tick, 1000);
			} catch (e) {
				if (!stop) setErr(e);
			}
		};
		tick();
		return () => { stop = true; clearTimeout(timer); };
	}, [upid]);
	useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [lines]);
	return (
		<div>
			<ErrorBox error={err} />
			<pre class="tasklog" ref={pre} tabindex="0" aria-label="task log">{lines.join('\n')}</pre>
		</div>
	);
}

export function TaskViewer({ upid, onClose }) {
	const [st, setSt] = useState(null);
	const node = upidNode(upid);
	const running = st && st.status === 'running';
	return (
		<Dialog title={`Task viewer: ${upid.split(':').slice(5, 7).join(' ')}`} onClose={onClose} wide>
			<Tabs tabs={[
				{ id: 'out', label: 'Output', render: () => <TaskLog upid={upid} onStatus={setSt} /> },
				{ id: 'st', label: 'Status', render: () => <KV obj={st} /> },
			]} />
			<div class="buttons">
				<span class={'taskstate ' + (st ? (running ? 'run' : st.exitstatus === 'OK' ? 'ok' : 'bad') : '')}>
					{st ? (running ? 'running' : `stopped: ${st.exitstatus}`) : ''}</span>
				{running && <button onClick={() => del(`/nodes/${node}/tasks/${encodeURIComponent(upid)}`)}>Stop</button>}
				<button onClick={onClose}>Close</button>
			</div>
		</Dialog>
	);
}

export function taskColumns(withNode) {
	return [
		{ key: 'starttime', label: 'Start time', render: fmtTime, width: '11em' },
		{ key: 'endtime', label: 'End time', render: fmtTime, width: '11em' },
		...(withNode ? [{ key: 'node', label: 'Node' }] : []),
		{ key: 'user', label: 'User name' },
		{ key: 'type', label: 'Description', render: (v, r) => `${v}${r.id ? ' ' + r.id : ''}` },
		{ key: 'status', label: 'Status', render: (v, r) => (r.endtime ? v || 'OK' : 'running') },
	];
}

// The bottom panel: the cluster's recent tasks, polled.
export function TaskBar() {
	const { data, error } = useApi('/cluster/tasks', null, 3000);
	const [sel, setSel] = useState(null);
	const [open, setOpen] = useState(true);
	return (
		<footer class={'taskbar' + (open ? '' : ' closed')}>
			<div class="taskbar-head">
				<button onClick={() => setOpen(!open)} aria-expanded={open}>Tasks {open ? '▾' : '▸'}</button>
				<ErrorBox error={error} />
			</div>
			{open && <Grid label="Tasks" columns={taskColumns(true)} rows={(data || []).slice(0, 50)}
				rowKey={(r) => r.upid} selected={sel} onSelect={setSel} onActivate={(r) => showTask(r.upid)} />}
		</footer>
	);
}

// A node's (or a guest's) task history.
export function TaskHistory({ node, vmid }) {
	const { data, error, reload } = useApi(`/nodes/${node}/tasks`, vmid ? { vmid, limit: 200 } : { limit: 200 }, 5000);
	const [sel, setSel] = useState(null);
	return (
		<div>
			<div class="toolbar">
				<button disabled={!sel} onClick={() => showTask(sel)}>View</button>
				<button onClick={reload}>Reload</button>
			</div>
			<ErrorBox error={error} />
			<Grid label="Task history" columns={taskColumns(false)} rows={data} rowKey={(r) => r.upid}
				selected={sel} onSelect={setSel} onActivate={(r) => showTask(r.upid)} />
		</div>
	);
}

// Runs an action that may answer a UPID and shows its task.
export async function runTask(method, path, params) {
	const r = await api(method, path, params);
	showTask(r);
	return r;
}
