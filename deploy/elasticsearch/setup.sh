#!/usr/bin/env bash
# One-shot set-up steps for deploy/compose.yaml, run in the Elasticsearch image:
#   setup.sh certs   make a CA and the node's certificate with elasticsearch-certutil (once)
#   setup.sh users   create the service's role and user (idempotent: re-run to change its password)
set -euo pipefail
CERTS=/usr/share/elasticsearch/config/certs
ES=${ES_URL:-https://elasticsearch:9200}

certs() {
  if [ -f "$CERTS/elasticsearch/elasticsearch.crt" ]; then
    echo "certificates already exist in $CERTS; delete the certs volume to make new ones"
    return
  fi
  umask 027
  bin/elasticsearch-certutil ca --silent --pem --out /tmp/ca.zip
  unzip -qo /tmp/ca.zip -d "$CERTS"
  cat >/tmp/instances.yml <<YML
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
YML
  bin/elasticsearch-certutil cert --silent --pem --in /tmp/instances.yml --out /tmp/certs.zip \
    --ca-cert "$CERTS/ca/ca.crt" --ca-key "$CERTS/ca/ca.key"
  unzip -qo /tmp/certs.zip -d "$CERTS"
  rm -f /tmp/ca.zip /tmp/certs.zip
  # The node (uid 1000, group 0) reads them; the CA key stays with root.
  chown -R 1000:0 "$CERTS"
  chown root:root "$CERTS/ca/ca.key"
  chmod 0600 "$CERTS/ca/ca.key"
  chmod 0644 "$CERTS/ca/ca.crt"
  echo "certificates written to $CERTS"
}

users() {
  local elastic soc_pw
  elastic=$(cat /run/secrets/elastic_password)
  soc_pw=$(cat /run/secrets/soc_store_password)
  api() {  # METHOD PATH BODY
    curl -sS --fail-with-body --cacert "$CERTS/ca/ca.crt" -u "elastic:$elastic" \
      -X "$1" "$ES$2" -H 'Content-Type: application/json' -d "$3"
    echo
  }
  api PUT /_security/role/soc_service "@/usr/share/elasticsearch/soc/soc_service.role.json"
  # The password goes through a file, never the command line (visible in ps).
  printf '{"password":"%s","roles":["soc_service"],"full_name":"SOC service"}' "$soc_pw" >/tmp/user.json
  api PUT /_security/user/soc_service @/tmp/user.json
  rm -f /tmp/user.json
}

"$@"
