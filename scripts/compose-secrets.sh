#!/bin/sh
# Makes the credentials docker-compose.yml mounts as Docker secrets, in DIR
# (default ./secrets, which .gitignore keeps out of the repository):
#
#   ca.pem, ca.key        a certificate authority made for this topology only
#   NODE.pem, NODE.key    a certificate per daemon (rc ep ntb host1 host2),
#                         CN and DNS name = the node name (soclink proves a
#                         node's name with it under mutual TLS), plus
#                         localhost and 127.0.0.1 for the published API ports
#   api-tokens            the daemons' control API tokens: one admin, one
#                         rpmsg (applications), one read (monitoring)
#   admin-token, app-token, read-token
#                         each token alone, as a client's --token-file reads it
#
# Run it once before `docker compose up`: sh scripts/compose-secrets.sh
# An existing DIR is left alone (remove it to make new credentials).
# Needs the openssl command (OpenSSL 1.1.1 or 3.x).
set -eu

dir=${1:-secrets}
nodes=${SOCLINK_NODES:-"rc ep ntb host1 host2"}
days=${SOCLINK_CERT_DAYS:-365}

if [ -e "$dir/ca.pem" ]; then
  echo "$dir/ca.pem exists: keeping $dir (remove it to make new credentials)" >&2
  exit 0
fi
command -v openssl >/dev/null || { echo "compose-secrets: the openssl command is needed" >&2; exit 1; }

umask 077
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# P-256 keys: small and quick to make; every TLS 1.3 stack speaks them.
key () { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/CN=soclink compose CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$dir/ca.pem"

for node in $nodes; do
  key "$dir/$node.key"
  openssl req -new -key "$dir/$node.key" -subj "/CN=$node" -out "$work/$node.csr"
  # serverAuth and clientAuth: a daemon is TLS server for the peers that dial
  # it and client for the peers it dials.
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=DNS:$node,DNS:localhost,IP:127.0.0.1" > "$work/$node.ext"
  openssl x509 -req -in "$work/$node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -sha256 -days "$days" -extfile "$work/$node.ext" -out "$dir/$node.pem" 2>/dev/null
done
rm -f "$dir/ca.srl"

token () { openssl rand -hex 32; }
admin=$(token); app=$(token); read=$(token)
printf '%s\n' "$admin" > "$dir/admin-token"
printf '%s\n' "$app" > "$dir/app-token"
printf '%s\n' "$read" > "$dir/read-token"
{
  echo "# soclink control API tokens: SCOPE TOKEN (read, rpmsg or admin)"
  echo "admin $admin"
  echo "rpmsg $app"
  echo "read $read"
} > "$dir/api-tokens"

# Docker mounts file secrets with the host file's mode and owner, and the
# image's daemons run as the user node: the files must be readable by others.
# The directory itself stays private (0700) on this host.
chmod 0644 "$dir"/*.pem "$dir"/*.key "$dir"/*-token "$dir/api-tokens"
chmod 0600 "$dir/ca.key"
echo "credentials for $nodes in $dir/ (CA: $dir/ca.pem)"
