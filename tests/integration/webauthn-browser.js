// A browser with a virtual security key, for test-webauthn.py: Debian's Chromium driven by
// playwright-core, the key added over the DevTools protocol (WebAuthn.addVirtualAuthenticator). It opens
// the page given as its argument (the relying party's origin), then answers one JSON command per line
// on stdin: {"op": "create" | "get", "publicKey": options with base64url members} with the
// PublicKeyCredential as Proxmox's web interface sends it (binary members in base64url), or
// {"error": "..."}. The key lives as long as this process: registration and login use the same one.
'use strict';

const readline = require('readline');
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');

async function main() {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const page = await browser.newPage();
	await page.goto(process.argv[2]);
	const cdp = await page.context().newCDPSession(page);
	await cdp.send('WebAuthn.enable');
	await cdp.send('WebAuthn.addVirtualAuthenticator', {
		options: {
			protocol: 'ctap2', transport: 'usb', hasResidentKey: false,
			hasUserVerification: false, automaticPresenceSimulation: true,
		},
	});
	const rl = readline.createInterface({ input: process.stdin });
	for await (const line of rl) {
		let out;
		try {
			const cmd = JSON.parse(line);
			out = await page.evaluate(async (cmd) => {
				const dec = (s) => Uint8Array.from(
					atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
				const enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
					.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
				const pk = cmd.publicKey;
				pk.challenge = dec(pk.challenge);
				for (const c of pk.excludeCredentials || []) c.id = dec(c.id);
				for (const c of pk.allowCredentials || []) c.id = dec(c.id);
				if (pk.user) pk.user.id = dec(pk.user.id);
				if (cmd.op === 'create') {
					const c = await navigator.credentials.create({ publicKey: pk });
					return { id: c.id, type: c.type, rawId: enc(c.rawId), response: {
						attestationObject: enc(c.response.attestationObject),
						clientDataJSON: enc(c.response.clientDataJSON) } };
				}
				const c = await navigator.credentials.get({ publicKey: pk });
				return { id: c.id, type: c.type, rawId: enc(c.rawId), response: {
					authenticatorData: enc(c.response.authenticatorData),
					clientDataJSON: enc(c.response.clientDataJSON),
					signature: enc(c.response.signature),
					userHandle: c.response.userHandle ? enc(c.response.userHandle) : null } };
			}, cmd);
		} catch (e) {
			out = { error: String(e) };
		}
		process.stdout.write(JSON.stringify(out) + '\n');
	}
	await browser.close();
}

main().catch((e) => {
	process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
	process.exit(1);
});
