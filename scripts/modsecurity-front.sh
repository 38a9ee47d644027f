#!/usr/bin/env bash
# nginx with ModSecurity v3 and the OWASP Core Rule Set at paranoia level 1, in front of an
# upstream: the WAF Rampart's proxy is compared with (the corpus through scripts/waf-corpus.py,
# throughput through loadbench). Debian's packages, installed for the comparison only:
#
#   apt-get install nginx libnginx-mod-http-modsecurity modsecurity-crs
#   scripts/modsecurity-front.sh 127.0.0.1:8080 8090      # runs until interrupted
#
# Everything it writes is in a temporary directory; nothing in the repository needs nginx.
set -euo pipefail
upstream="${1:?usage: modsecurity-front.sh UPSTREAM_HOST:PORT LISTEN_PORT}"
port="${2:?usage: modsecurity-front.sh UPSTREAM_HOST:PORT LISTEN_PORT}"
module="$(ls /usr/lib/nginx/modules/ngx_http_modsecurity_module.so)"
crs=/usr/share/modsecurity-crs
[ -d "$crs" ] || { echo "modsecurity-crs is not installed" >&2; exit 1; }
dir="$(mktemp -d)"
trap 'kill "$(cat "$dir/nginx.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$dir"' EXIT

# ModSecurity's recommended configuration, blocking (not DetectionOnly), with the CRS at its
# defaults (paranoia level 1, anomaly scoring, inbound threshold 5).
# (Debian's libnginx-mod-http-modsecurity ships it as /etc/nginx/modsecurity.conf.)
sed -e 's/^SecRuleEngine .*/SecRuleEngine On/' -e 's|^SecAuditLog .*|SecAuditLog /dev/null|' \
  -e 's|^SecUnicodeMapFile unicode.mapping|SecUnicodeMapFile /etc/nginx/unicode.mapping|' \
  /etc/nginx/modsecurity.conf > "$dir/modsecurity.conf"
# Debian's owasp-crs.load, less the IncludeOptional libmodsecurity3 does not read.
cat > "$dir/main.conf" <<EOF
Include $dir/modsecurity.conf
Include /etc/modsecurity/crs/crs-setup.conf
Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
Include $crs/rules/*.conf
Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
EOF
cat > "$dir/nginx.conf" <<EOF
load_module $module;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  upstream app { server $upstream; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    modsecurity on;
    modsecurity_rules_file $dir/main.conf;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
echo "nginx + ModSecurity + CRS (PL1) on 127.0.0.1:$port -> $upstream"
nginx -c "$dir/nginx.conf" -g 'daemon off;'
