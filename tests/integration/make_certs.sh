#!/bin/sh
# make_certs.sh DIR - test certificates for the HTTPS registry stand-in
# (registry_server.py --tls-cert/--tls-key/--client-ca), made with openssl:
#   ca.pem                 a CA
#   server.pem server.key  signed by it, for 127.0.0.1 and localhost
#   client.pem client.key  a client certificate signed by it; the key is
#                          encrypted with the password in client.pass
#   other-ca.pem           another CA, that signed none of them
# This is a helper used by tests, not a test itself.
set -eu
d=$1
mkdir -p "$d"
cd "$d"
q() { "$@" >/dev/null 2>&1 || { echo "make_certs.sh: failed: $*" >&2; exit 1; }; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=leadscore-test-ca \
    -keyout ca.key -out ca.pem
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-test-ca \
    -keyout other-ca.key -out other-ca.pem
q openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
    -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -extfile server.ext -out server.pem
printf 'cl1ent-key-pa55\n' > client.pass
q openssl req -newkey rsa:2048 -subj /CN=leadscore-client \
    -passout file:client.pass -keyout client.key -out client.csr
q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -out client.pem
