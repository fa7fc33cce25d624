/* tests/bench/bench-firewall-apply.c: the firewall compiler and its netlink batch on a large ruleset:
 * GUESTS guests (1,000) with 10 rules each, built as .fw text and parsed as pved would. Run in a
 * network namespace of its own (tests/bench/bench-firewall makes one). Writes the same ruleset in nft
 * syntax to DIR/full.nft and one guest's replacement to DIR/guest.nft for `nft -f` beside it, and
 * prints key=value pairs. Usage: bench-firewall-apply DIR [GUESTS] [REPLACES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw/fw.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static pve_fw_file *parse(pve_fw_kind kind, const char *text)
{
	pve_fw_file *f = NULL;
	pve_error *err = NULL;
	if (pve_fw_parse(kind, text, strlen(text), &f, &err) < 0) {
		fprintf(stderr, "parse: %s\n", err->message);
		exit(1);
	}
	return f;
}

/* Ten rules of the kinds users write: macros, port lists and ranges, address lists, ICMP, logging. */
static char *guest_text(unsigned vmid, unsigned variant)
{
	return xasprintf("[OPTIONS]\nenable: 1\nipfilter: 1\npolicy_in: DROP\n"
			 "[IPSET ipfilter-net0]\n10.%u.%u.2\n"
			 "[RULES]\n"
			 "IN SSH(ACCEPT) -source +management\n"
			 "IN HTTP(ACCEPT)\n"
			 "IN HTTPS(ACCEPT) -source 10.0.0.0/8,192.168.%u.0/24\n"
			 "IN ACCEPT -p tcp -dport 8000:8100,9000,%u\n"
			 "IN ACCEPT -p udp -dport 53,123 -source 10.1.0.0/16\n"
			 "IN Ping(ACCEPT)\n"
			 "IN DROP -p tcp -dport 25 -log info\n"
			 "OUT DROP -dest 172.16.0.0/12,192.0.2.0/24\n"
			 "OUT ACCEPT -p tcp -dport 443\n"
			 "IN ACCEPT -p tcp -dport %u -source 10.%u.0.0/16\n",
			 vmid / 250, vmid % 250, vmid % 250, 10000 + vmid + variant,
			 20000 + variant, vmid / 250);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-firewall-apply DIR [GUESTS] [REPLACES]\n");
		return 2;
	}
	const char *dir = argv[1];
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
	unsigned reps = argc > 3 ? (unsigned)atoi(argv[3]) : 20;
	pve_fw_file *cluster = parse(PVE_FW_CLUSTER,
				     "[OPTIONS]\nenable: 1\n[IPSET management]\n10.0.0.0/24\n"
				     "[RULES]\nIN SSH(ACCEPT) -source +management\n");
	pve_fw_guest *guests = xcalloc(n, sizeof(*guests));
	double t0 = now_ms();
	for (unsigned i = 0; i < n; i++) {
		unsigned vmid = 100 + i;
		char *text = guest_text(vmid, 0);
		pve_fw_nic *nic = xcalloc(1, sizeof(*nic));
		*nic = (pve_fw_nic){ .index = 0,
				     .firewall = true,
				     .has_mac = true,
				     .mac = { 0x02, 0, 0, (uint8_t)(vmid >> 8), (uint8_t)vmid,
					      0 } };
		snprintf(nic->ifname, sizeof(nic->ifname), "tap%ui0", vmid);
		guests[i] = (pve_fw_guest){
			.vmid = vmid, .nics = nic, .n_nics = 1, .fw = parse(PVE_FW_VM, text)
		};
		free(text);
	}
	double t_parse = now_ms() - t0;
	pve_fw_input in = { .cluster = cluster, .guests = guests, .n_guests = n };
	pve_error *err = NULL;
	pve_fw_ruleset *rs = NULL;
	t0 = now_ms();
	if (pve_fw_compile(&in, &rs, &err) < 0) {
		fprintf(stderr, "compile: %s\n", err->message);
		return 1;
	}
	double t_compile = now_ms() - t0;
	t0 = now_ms();
	if (pve_fw_apply(rs, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err->message);
		return 1;
	}
	double t_apply = now_ms() - t0;
	char *text = pve_fw_ruleset_nft(rs);
	char *path = xasprintf("%s/full.nft", dir);
	FILE *f = fopen(path, "we");
	fputs(text, f);
	fclose(f);
	free(path);
	free(text);

	/* One guest's rules changed, again and again: only its chains, sets and map elements. */
	unsigned vmid = 100 + n / 2;
	double best = 1e9, sum = 0, esum = 0;
	pve_fw_ruleset *cur = rs;
	for (unsigned r = 1; r <= reps; r++) {
		pve_fw_guest *g = &guests[n / 2];
		pve_fw_file_free((pve_fw_file *)g->fw);
		char *t = guest_text(vmid, r);
		g->fw = parse(PVE_FW_VM, t);
		free(t);
		pve_fw_ruleset *next = NULL;
		double s = now_ms();
		if (pve_fw_compile(&in, &next, &err) < 0 ||
		    pve_fw_apply_guest(cur, next, vmid, &err) < 0) {
			fprintf(stderr, "replace: %s\n", err->message);
			return 1;
		}
		double e = now_ms() - s;
		/* The apply alone, without the compile of all guests it follows. */
		s = now_ms();
		if (pve_fw_apply_guest(next, next, vmid, &err) < 0) {
			fprintf(stderr, "replace: %s\n", err->message);
			return 1;
		}
		double a = now_ms() - s;
		esum += e;
		sum += a;
		if (a < best)
			best = a;
		pve_fw_ruleset_free(cur);
		cur = next;
		if (r == reps) {
			char *gt = pve_fw_ruleset_guest_nft(cur, vmid);
			path = xasprintf("%s/guest.nft", dir);
			f = fopen(path, "we");
			fputs(gt, f);
			fclose(f);
			free(path);
			free(gt);
		}
	}
	char *report = NULL;
	int st = pve_fw_status(cur, &report, &err);
	printf("guests=%u rules_per_guest=10 parse_ms=%.1f compile_ms=%.1f apply_ms=%.1f "
	       "replace_best_ms=%.2f replace_avg_ms=%.2f compile_and_replace_avg_ms=%.2f in_sync=%d\n",
	       n, t_parse, t_compile, t_apply, best, sum / reps, esum / reps, st == 0);
	free(report);
	pve_fw_ruleset_free(cur);
	return 0;
}
