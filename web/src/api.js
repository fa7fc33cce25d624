// The public API, as any script would use it: the ticket in Proxmox's PVEAuthCookie cookie, the CSRF
// token in a header on every write, parameters form-encoded, answers under "data".
const BASE = '/api2/json';
const STORE = 'pved-login';

export const session = { username: null, csrf: null, cap: null };
let onLogout = () => {};

export class ApiError extends Error {
	constructor(status, message, errors) {
		super(message);
		this.status = status;
		this.errors = errors || null;
	}
	// The message with each parameter's complaint, as Proxmox's "errors" object names them.
	get detail() {
		if (!this.errors) return this.message;
		return this.message + ': ' + Object.entries(this.errors).map(([k, v]) => `${k}: ${v}`).join('; ');
	}
}

export function setLogoutHandler(fn) { onLogout = fn; }

export function loadSession() {
	try {
		const s = JSON.parse(localStorage.getItem(STORE) || 'null');
		if (s && s.username && s.csrf && document.cookie.includes('PVEAuthCookie=')) {
			session.username = s.username;
			session.csrf = s.csrf;
			return true;
		}
	} catch (e) { /* a damaged entry is a logged-out browser */ }
	return false;
}

function setTicket(data) {
	// Secure and SameSite: the cookie goes only to this node over TLS, never with another site's request.
	document.cookie = `PVEAuthCookie=${encodeURIComponent(data.ticket)}; path=/; secure; samesite=strict`;
	session.username = data.username;
	session.csrf = data.CSRFPreventionToken;
	session.cap = data.cap || null;
	localStorage.setItem(STORE, JSON.stringify({ username: session.username, csrf: session.csrf }));
}

export function logout() {
	document.cookie = 'PVEAuthCookie=; path=/; secure; samesite=strict; expires=Thu, 01 Jan 1970 00:00:00 GMT';
	localStorage.removeItem(STORE);
	session.username = session.csrf = session.cap = null;
	onLogout();
}

export function encode(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) {
		if (v === undefined || v === null) continue;
		q.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
	}
	return q.toString();
}

export async function api(method, path, params, opts = {}) {
	let url = BASE + path;
	const init = { method, headers: {}, credentials: 'same-origin' };
	if (method === 'GET' || method === 'DELETE') {
		const q = encode(params);
		if (q) url += '?' + q;
	} else {
		init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
		init.body = encode(params);
	}
	if (method !== 'GET' && session.csrf) init.headers.CSRFPreventionToken = session.csrf;
	if (opts.signal) init.signal = opts.signal;
	const r = await fetch(url, init);
	let body = null;
	try { body = await r.json(); } catch (e) { /* an empty or non-JSON answer */ }
	if (r.status === 401 && !opts.noLogout) {
		logout();
		throw new ApiError(401, 'not logged in');
	}
	if (!r.ok) {
		// Proxmox puts the reason in the status line; the body may add per-parameter errors.
		const msg = (body && body.message) || r.statusText || `HTTP ${r.status}`;
		throw new ApiError(r.status, msg.trim(), body && body.errors);
	}
	// A change anywhere: the tree and the task list look again at once instead of at their next poll.
	if (method !== 'GET') dispatchEvent(new Event('pved-changed'));
	// Some answers say more beside "data" (the network's pending "changes"): opts.whole keeps them.
	if (opts.whole) return body;
	return body ? body.data : null;
}

export const get = (p, q, o) => api('GET', p, q, o);
export const post = (p, q) => api('POST', p, q);
export const put = (p, q) => api('PUT', p, q);
export const del = (p, q) => api('DELETE', p, q);

// What a half ticket asks for: PVE:!tfa!{JSON, ':' written %3A}:TIME::SIGNATURE, the JSON naming the
// factors the user has (totp, recovery, webauthn with its publicKey options).
function tfaChallenge(ticket) {
	try {
		const data = ticket.slice(4, ticket.lastIndexOf('::'));
		return JSON.parse(data.slice(0, data.lastIndexOf(':')).replace(/^!tfa!/, '').replace(/%3A/g, ':'));
	} catch (e) {
		return {};
	}
}

// The first step of a login: a full ticket, or a half ticket with NeedTFA and its challenge.
export async function login(username, password, realm) {
	const data = await api('POST', '/access/ticket', { username, password, realm }, { noLogout: true });
	if (data.NeedTFA)
		return { tfa: true, username: data.username, ticket: data.ticket, challenge: tfaChallenge(data.ticket) };
	setTicket(data);
	return { tfa: false };
}

// A security key's answer to the half ticket's WebAuthn challenge, as the code of kind "webauthn":
// the assertion's binary members in base64url, as Proxmox's interface sends them.
export async function webauthnAnswer(publicKey) {
	const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
	const enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
		.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
	const pk = { ...publicKey, challenge: dec(publicKey.challenge) };
	pk.allowCredentials = (publicKey.allowCredentials || []).map((c) => ({ ...c, id: dec(c.id) }));
	const c = await navigator.credentials.get({ publicKey: pk });
	return JSON.stringify({
		id: c.id, type: c.type, rawId: enc(c.rawId), response: {
			authenticatorData: enc(c.response.authenticatorData),
			clientDataJSON: enc(c.response.clientDataJSON),
			signature: enc(c.response.signature),
			userHandle: c.response.userHandle ? enc(c.response.userHandle) : null,
		},
	});
}

// A ticket lives 2 hours: the page renews it with itself as the password, as Proxmox's does, well
// before that (every 15 minutes while open).
export async function renewTicket() {
	const m = document.cookie.match(/(?:^|;\s*)PVEAuthCookie=([^;]*)/);
	if (!m || !session.username) return;
	const data = await api('POST', '/access/ticket',
		{ username: session.username, password: decodeURIComponent(m[1]) }, { noLogout: true });
	setTicket(data);
}

// The second step: the half ticket as tfa-challenge, the TOTP (or recovery) code in the password.
export async function loginTfa(username, challenge, kind, code) {
	const data = await api('POST', '/access/ticket',
		{ username, 'tfa-challenge': challenge, password: `${kind}:${code}` }, { noLogout: true });
	setTicket(data);
}

// An upload as multipart with progress: fetch cannot report the request body's progress, XHR can.
export function upload(path, fields, file, onProgress) {
	return new Promise((resolve, reject) => {
		const fd = new FormData();
		for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') fd.append(k, v);
		fd.append('filename', file, file.name);
		const x = new XMLHttpRequest();
		x.open('POST', BASE + path);
		x.setRequestHeader('CSRFPreventionToken', session.csrf);
		x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
		x.onload = () => {
			let b = null;
			try { b = JSON.parse(x.responseText); } catch (e) { /* none */ }
			if (x.status >= 200 && x.status < 300) resolve(b && b.data);
			else reject(new ApiError(x.status, (b && b.message) || x.statusText, b && b.errors));
		};
		x.onerror = () => reject(new ApiError(0, 'upload failed: connection lost'));
		x.send(fd);
	});
}

export function wsUrl(path, params) {
	return `wss://${location.host}${BASE}${path}?${encode(params)}`;
}
