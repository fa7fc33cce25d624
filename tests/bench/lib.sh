# tests/bench/lib.sh: what the benchmark scripts share: free ports, a pved node on a temp root, an nginx
# serving static files over TLS with a given certificate, and reading wrk's numbers. Source it from bash
# after `cd` to the top of the repository; the caller stops what it started with bench_cleanup (trap it).

bench_pved_pid="" bench_nginx_pid=""

bench_cleanup() {
	[ -n "$bench_pved_pid" ] && kill "$bench_pved_pid" 2>/dev/null && wait "$bench_pved_pid" 2>/dev/null
	[ -n "$bench_nginx_pid" ] && kill "$bench_nginx_pid" 2>/dev/null && wait "$bench_nginx_pid" 2>/dev/null
	bench_pved_pid="" bench_nginx_pid=""
	return 0
}

bench_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_start_pved ROOT PORT NODE LOG: pved (from $PVED_BIN, default build/bin) on 127.0.0.1:PORT with its
# root in ROOT, in the foreground of a background job; returns once /version answers.
bench_start_pved() {
	local root=$1 port=$2 node=$3 log=$4
	mkdir -p "$root"
	"${PVED_BIN:-build/bin}"/pved --root "$root" --listen "127.0.0.1:$port" --node "$node" \
		--foreground >"$log" 2>&1 &
	bench_pved_pid=$!
	for _ in $(seq 100); do
		curl -sk "https://127.0.0.1:$port/api2/json/version" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "pved did not start: $(tail -n 5 "$log")" >&2
	return 1
}

# bench_start_nginx DIR PORT: nginx (2 workers, no access log) on 127.0.0.1:PORT with DIR/pve-ssl.pem and
# DIR/pve-ssl.key, serving DIR/www; its config and logs in DIR.
bench_start_nginx() {
	local dir=$1 port=$2
	mkdir -p "$dir/www" "$dir/logs"
	# The workers run as the caller: as nobody (nginx's default for root) they could not read files
	# under a mktemp -d directory (0700) and would answer 403 to every request.
	cat >"$dir/nginx.conf" <<CONF
user $(id -un) $(id -gn);
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	default_type application/json;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$port ssl;
		ssl_certificate $dir/pve-ssl.pem;
		ssl_certificate_key $dir/pve-ssl.key;
		root $dir/www;
		location / { }
	}
}
CONF
	nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
	bench_nginx_pid=$!
	for _ in $(seq 50); do
		curl -sk "https://127.0.0.1:$port/" -o /dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nginx did not start: $(tail -n 5 "$dir/logs/error.log")" >&2
	return 1
}

# bench_wrk_summary: reads wrk's output on stdin, prints "<requests/s> <p99 ms> <non-2xx count> <errors>".
bench_wrk_summary() {
	awk '
		/^Requests\/sec/ { rps = $2 }
		$1 == "99%" { v = $2
			if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
			else if (v ~ /ms$/) { sub(/ms$/, "", v) }
			else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
			p99 = v }
		/Non-2xx/ { non2xx = $NF }
		/Socket errors/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
		END { printf "%s %s %d %d\n", rps, (p99 == "" ? 0 : p99), non2xx, errors }'
}
