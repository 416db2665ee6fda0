#!/usr/bin/env bash
# A real move in a box: example.org's eight servers on their new network, each a Linux
# network namespace running Debian's unmodified sshd, nginx and BIND named, a caching
# resolver, and a "laptop" namespace where moveday runs. See tests/lab/README.md.
#
#   lab.sh run     build the lab, print one line `READY prefix=... dir=... laptop=...
#                  inventory=...`, then read commands from stdin (one per line, each
#                  answered with one line `ok ...` or `error ...`) until end of input;
#                  then tear everything down. Also torn down on failure, on SIGINT (Ctrl-C),
#                  SIGTERM, SIGHUP and SIGPIPE. A test holds the lab by holding its stdin:
#                  however the test ends, even by kill -9, the pipe closes and the lab goes
#                  (and should the pipe stay open, the lab goes when its parent process does).
#   lab.sh check   exit 0 when a lab can be built here, else say why and exit 3
#   lab.sh gc      remove what labs whose supervisor died by kill -9 left behind
#
# Commands on stdin (faults to replay, and their repairs):
#   pin-old HOST          the laptop's hosts file pins HOST's fqdn to its OLD address
#   unpin HOST            remove that line again
#   drop-port HOST PORT   an nftables rule in HOST drops TCP to PORT (filtered, no RST)
#   accept-port HOST      remove HOST's drop rules
#   stale HOST            www: planet stopped updating 3 days ago (body time, mtime)
#   close-port HOST PORT  nginx on HOST stops listening on PORT (nothing listens: refused)
#   link-down HOST        HOST's network link goes down (the host is off the network)
#   link-up HOST          and comes back
#   fix-glue              the parent (org.) publishes ns-master's glue at its NEW address
#   break-glue            and back at the OLD one (as the lab starts)
#   fix-spf [both]        example.org's SPF authorizes mail's NEW address (with `both`, the
#                         old one too): a signed update with the lab's admin key
#   break-spf             and only the OLD one again (as the lab starts)
#   delist                the lab's blocklist (dnsbl.lab.test) no longer lists mail's new
#                         address
#   relist                and lists it again (as the lab starts)
#   ping                  answers `ok pong`
#
# Environment: MDLAB_INTERVAL, MDLAB_TIMEOUT (the generated inventory's probe interval and
# timeout, default 1s each); MDLAB_DELEGATION_EVERY, MDLAB_CANARY_EVERY,
# MDLAB_CANARY_DEADLINE (its [dns] delegation_every, canary_every and canary_deadline,
# default 2s, 500ms and 20s); MDLAB_DNSBL_EVERY (its [mail] dnsbl_every, default 2s:
# under a minute only with a dnsbl_resolver of one's own, the lab's resolver here);
# MDLAB_MAIL_FAULTS=0 starts with mail's SPF fixed and nothing listed (no update: the
# zone's serials stay as they are); MDLAB_CANARY_KEY=0 leaves the zone's canary_key (keys/moveday-canary.key) out of the
# inventory (moveday then refuses to write to the zone); MDLAB_FAIL_AT=network|dns|daemons
# (fail on purpose after that step: the teardown test).
# MDLAB_OFFICE=1 also builds the office, a vantage point on another subnet (100.64.7.0/24,
# routed through the bridge namespace) with its own resolver, hosts file and sshd, and puts
# it in the inventory as `[[vantage]] office`: MDLAB_MOVEDAY is its remote command (an
# absolute path: the namespaces share the file system; default "moveday"),
# MDLAB_VANTAGE_EVERY its every (default 10s).
#
# Exit codes: 0 torn down after end of input, 3 a lab cannot be built here (not root, a
# package missing), 1 setup failed, 128+N a signal.
set -euo pipefail
shopt -s nullglob
shopt -u patsub_replacement 2>/dev/null || true

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$SRC/templates
NEW=203.0.113
OLD=198.51.100
RESOLVER_IP=$NEW.53
ORG_IP=$NEW.54
LAPTOP_IP=$NEW.100
GATEWAY_IP=$NEW.1
SERIAL_OLD=2009121201
SERIAL_NEW=2009121202
ORG_SERIAL=2009120101 # the parent's (org.) serial, bumped by fix-glue and break-glue
KEY_NAME=moveday-canary
ADMIN_KEY_NAME=lab-admin # the lab's own admin key: SPF at the primary, the blocklist's listings
SSH_KEY_NAME=ssh-admin   # keys/ssh-admin: the SSH key every host's sshd accepts for root
MAIL_DOMAIN=example.org
SPF_OLD="v=spf1 ip4:$OLD.11 -all"
SPF_NEW="v=spf1 ip4:$NEW.11 -all"
SPF_BOTH="v=spf1 ip4:$OLD.11 ip4:$NEW.11 -all"
DNSBL_ZONE=dnsbl.lab.test
DNSBL_NAME=11.113.0.203.$DNSBL_ZONE # mail's new address, reversed, under the list's zone
DNSBL_REASON="Listed in the lab: backlog burst, see https://$DNSBL_ZONE/$NEW.11"
HOSTS=(ns-master mail git vbox drawable www build jabber)
declare -A OCTET=([ns-master]=10 [mail]=11 [git]=12 [vbox]=13 [drawable]=14 [www]=15
  [build]=16 [jabber]=17)
# What each host serves over HTTP(S) with nginx: "port:server_name:root[:tls]".
declare -A SITES=(
  [mail]="80:mail.example.org:mail"
  [git]="80:git.example.org:git 443:git.example.org:git:tls"
  [vbox]="80:vbox.example.org:vbox"
  [www]="80:www.example.org:www 80:planet.example.org:planet"
  [build]="8010:build.example.org:build 9989:build.example.org:build"
  [jabber]="5222:jabber.example.org:jabber 5269:jabber.example.org:jabber"
)
STATE_DIR=${TMPDIR:-/tmp}
INSTALL_HINT="apt-get install openssh-server openssh-client nginx-light bind9 bind9-dnsutils nftables iproute2 iputils-ping openssl"

# The office (MDLAB_OFFICE=1): a vantage point on another subnet, routed to the lab.
OFFICE_NET=100.64.7
OFFICE_IP=$OFFICE_NET.10
OFFICE_GW=$OFFICE_NET.1 # the bridge namespace's side of the office's link

P=mdlab$$            # every namespace, directory and file of this lab starts with it
LAB=""               # the lab's directory (configs, keys, logs, pages)
LAPTOP=$P-laptop
BRIDGE=$P-br
RESOLVER=$P-resolver
ORG_NS=$P-parent
OFFICE=$P-office
TORN_DOWN=0
PARENT=${MDLAB_PARENT:-$PPID}

log() { printf '%s lab %s: %s\n' "$(date +%T.%3N)" "$P" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# ------------------------------------------------------------------- prerequisites

prerequisites() {
  local missing=() tool
  if [ "$(id -u)" != 0 ]; then
    echo "not root: network namespaces need it" >&2
    return 3
  fi
  for tool in ip nft sshd ssh nginx named dig nsupdate tsig-keygen ssh-keygen openssl ping ss \
    unshare timeout; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing ${missing[*]} ($INSTALL_HINT)" >&2
    return 3
  fi
  if ! ip netns add "$P-probe" 2>/dev/null; then
    echo "cannot create a network namespace here" >&2
    return 3
  fi
  ip netns del "$P-probe"
}

# ------------------------------------------------------------------- helpers

# render TEMPLATE OUT KEY=VALUE...: copies a template, replacing every @KEY@.
render() {
  local template=$1 out=$2 text pair
  shift 2
  text=$(<"$TEMPLATES/$template")
  for pair in "$@"; do
    text=${text//@${pair%%=*}@/${pair#*=}}
  done
  if [[ $text =~ @[A-Z_]+@ ]]; then
    die "$template: ${BASH_REMATCH[0]} not substituted"
  fi
  printf '%s\n' "$text" >"$out"
}

ip_of() { echo "$NEW.${OCTET[$1]}"; }

# spawn NS LOG COMMAND...: a daemon in a namespace, in the foreground (no double fork), its
# output in LOG. Every daemon is found again at teardown by its namespace.
spawn() {
  local ns=$1 logfile=$2
  shift 2
  ip netns exec "$ns" "$@" </dev/null >>"$logfile" 2>&1 &
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 50 ms.
wait_until() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${seconds}s waiting for $what"
    sleep 0.05
  done
}

listening() { # NS PORT
  [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]
}

not_listening() { ! listening "$@"; }

# soa_serial SERVER: the SOA serial of example.org at SERVER, asked from the laptop.
soa_serial() {
  local rd=+norecurse
  [ "$1" = "$RESOLVER_IP" ] && rd=+recurse
  ip netns exec "$LAPTOP" dig +short +time=1 +tries=1 $rd "@$1" example.org SOA |
    awk '{print $3}'
}

serial_is() { [ "$(soa_serial "$1")" = "$2" ]; }

answers() { # SERVER NAME ADDRESS: SERVER resolves NAME to ADDRESS
  [ "$(ip netns exec "$LAPTOP" dig +short +time=1 +tries=1 "@$1" "$2" A)" = "$3" ]
}

# ------------------------------------------------------------------- teardown

our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$1-" || true; }

# kill_namespaces PREFIX: every process in the lab's namespaces (the daemons, and whatever
# a test started there, such as a tmux server), then the namespaces. Deleting the bridge
# namespace deletes every veth pair.
kill_namespaces() {
  local IFS=$' \t\n' prefix=$1 ns pids=() pid deadline
  for ns in $(our_namespaces "$prefix"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      [ "$pid" != $$ ] && pids+=("$pid")
    done
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    deadline=$((SECONDS + 3))
    while [ $SECONDS -lt $deadline ]; do
      local alive=()
      for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && alive+=("$pid")
      done
      [ ${#alive[@]} -eq 0 ] && break
      pids=("${alive[@]}")
      sleep 0.05
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  for ns in $(our_namespaces "$prefix"); do
    ip netns del "$ns" 2>/dev/null || log "cannot delete namespace $ns"
  done
}

teardown() {
  local status=$?
  # A signal that arrives during `IFS= read` runs its trap with that IFS still in effect.
  local IFS=$' \t\n' deadline
  trap '' INT TERM HUP PIPE
  [ "$TORN_DOWN" = 1 ] && return
  TORN_DOWN=1
  kill_namespaces "$P"
  # Reap the daemons we started (all killed above; never wait for ever).
  deadline=$((SECONDS + 5))
  while [ -n "$(jobs -rp)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  local stuck
  read -ra stuck <<<"$(jobs -rp | tr '\n' ' ')"
  [ ${#stuck[@]} -eq 0 ] || kill -KILL "${stuck[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "/etc/netns/$LAPTOP" "/etc/netns/$OFFICE"
  if [ -n "$LAB" ]; then
    if [ "$status" != 0 ] && [ -d "$LAB/logs" ]; then
      # A failed setup: show the daemons' complaints before their files go.
      local f
      for f in "$LAB"/logs/*.log; do
        [ -s "$f" ] && { echo "--- $f" && tail -n 20 "$f"; } >&2
      done
    fi
    rm -rf "$LAB"
  fi
  log "torn down (exit $status)"
}

gc() {
  local IFS=$' \t\n' pid prefix path
  for prefix in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -oE '^mdlab[0-9]+-' | sort -u); do
    prefix=${prefix%-}
    pid=${prefix#mdlab}
    if ! kill -0 "$pid" 2>/dev/null; then
      log "removing $prefix (its supervisor $pid is gone)"
      kill_namespaces "$prefix"
    fi
  done
  for path in /etc/netns/mdlab*-* "$STATE_DIR"/mdlab*.*; do
    prefix=$(basename "$path")
    prefix=${prefix%%[-.]*}
    pid=${prefix#mdlab}
    [[ $pid =~ ^[0-9]+$ ]] || continue
    kill -0 "$pid" 2>/dev/null || rm -rf "$path"
  done
}

# ------------------------------------------------------------------- the network

attach() { # NAME IP: a namespace on the bridge
  local ns=$1 ip=$2 port=v-${1#"$P"-}
  ip netns add "$ns"
  ip -n "$BRIDGE" link add "$port" type veth peer name eth0 netns "$ns"
  ip -n "$BRIDGE" link set "$port" master br0 up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}

build_network() {
  ip netns add "$BRIDGE"
  ip -n "$BRIDGE" link set lo up
  ip -n "$BRIDGE" link add br0 type bridge
  ip -n "$BRIDGE" link set br0 up
  # The gateway the laptop's route to the old network points at. Nobody answers there:
  # what arrives for it is dropped without a word (no RST, no ICMP).
  ip -n "$BRIDGE" addr add "$GATEWAY_IP/24" dev br0
  ip netns exec "$BRIDGE" nft -f - <<EOF
table ip $P {
    chain old_network {
        type filter hook prerouting priority -300; policy accept;
        ip daddr $OLD.0/24 drop
    }
}
EOF
  local h
  for h in "${HOSTS[@]}"; do
    attach "$P-$h" "$(ip_of "$h")"
  done
  attach "$RESOLVER" "$RESOLVER_IP"
  attach "$ORG_NS" "$ORG_IP"
  attach "$LAPTOP" "$LAPTOP_IP"
  ip -n "$LAPTOP" route add "$OLD.0/24" via "$GATEWAY_IP"

  # The laptop's own hosts file and resolv.conf (ip netns exec bind-mounts them). Written
  # in place from now on, never replaced, so the bind mount keeps showing the changes.
  mkdir -p "/etc/netns/$LAPTOP"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n# lab %s: the laptop'"'"'s hosts file\n' \
    "$P" >"/etc/netns/$LAPTOP/hosts"
  printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$RESOLVER_IP" >"/etc/netns/$LAPTOP/resolv.conf"
}

# ------------------------------------------------------------------- the servers

pki() {
  local d=$LAB/pki
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.crt -days 30 -subj "/CN=moveday lab CA $P" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout git.example.org.key -out git.csr -subj "/CN=git.example.org"
    printf '%s\n' "subjectAltName=DNS:git.example.org" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >git.ext
    openssl x509 -req -in git.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
      -days 30 -extfile git.ext -out git.example.org.crt
  ) >>"$LAB/logs/openssl.log" 2>&1 || die "openssl failed (see $LAB/logs/openssl.log)"
}

pages() { # HOST: the pages nginx serves
  local h=$1 root=$LAB/hosts/$1/www now
  now=$(date -u +'%Y-%m-%d %H:%M')
  mkdir -p "$root/$h"
  case $h in
  mail)
    mkdir -p "$root/mail/archives"
    echo "<html><title>mail.example.org</title><body>Mailman</body></html>" >"$root/mail/index.html"
    echo "<html><title>Archives</title><body>Mailing list Archives</body></html>" >"$root/mail/archives/index.html"
    ;;
  git) echo "<html><title>git.example.org</title><body>cgit</body></html>" >"$root/git/index.html" ;;
  vbox) echo "<html><title>vbox</title><body>VirtualBox builds</body></html>" >"$root/vbox/index.html" ;;
  www)
    mkdir -p "$root/planet"
    echo "<html><title>example.org</title><body>Welcome to example.org</body></html>" >"$root/www/index.html"
    planet "$now"
    ;;
  build) echo "<html><title>Buildbot</title><body>waterfall</body></html>" >"$root/build/index.html" ;;
  jabber) echo "jabber" >"$root/jabber/index.html" ;;
  esac
}

planet() { # "YYYY-mm-dd HH:MM" (UTC): planet's page and feed, last updated then
  local root=$LAB/hosts/www/www/planet
  printf '<html><title>Planet example.org</title><body><p>Last updated: %s</p></body></html>\n' \
    "$1" >"$root/index.html"
  printf '<?xml version="1.0"?><rss version="2.0"><channel><title>Planet</title></channel></rss>\n' \
    >"$root/rss20.xml"
}

start_host() { # HOST: sshd, and nginx where the host serves HTTP
  local h=$1 ns=$P-$1 dir=$LAB/hosts/$1 ip site port name root tls
  ip=$(ip_of "$h")
  mkdir -p "$dir"
  ssh-keygen -q -t ed25519 -N '' -C "$h.example.org lab $P" -f "$dir/ssh_host_ed25519_key"
  render sshd_config "$dir/sshd_config" HOST="$h" IP="$ip" HOSTDIR="$dir" \
    AUTHORIZED_KEYS="$LAB/keys/$SSH_KEY_NAME.pub"
  # sshd insists on its privilege-separation directory /run/sshd: a private /run in the
  # daemon's own mount namespace (ip netns exec made one), nothing created system-wide.
  spawn "$ns" "$LAB/logs/sshd-$h.log" sh -c \
    'mount -t tmpfs -o mode=755,size=1m lab /run && mkdir -m 755 /run/sshd && exec "$@"' \
    sshd /usr/sbin/sshd -D -e -f "$dir/sshd_config"
  [ -n "${SITES[$h]:-}" ] || return 0
  pages "$h"
  mkdir -p "$dir/sites" "$dir/nginx-tmp"
  for site in ${SITES[$h]}; do
    IFS=: read -r port name root tls <<<"$site"
    render "site${tls:+-tls}.conf" "$dir/sites/$port-$name.conf" IP="$ip" PORT="$port" \
      SERVER_NAME="$name" ROOT="$dir/www/$root" LAB="$LAB"
  done
  render nginx.conf "$dir/nginx.conf" HOST="$h" IP="$ip" HOSTDIR="$dir"
  spawn "$ns" "$LAB/logs/nginx-$h.log" /usr/sbin/nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/nginx-error.log"
}

zone_file() { # OUT NET SERIAL TTL [SPF]
  render example.org.zone "$1" NET="$2" SERIAL="$3" TTL="$4" SPF="${5:-$SPF_OLD}"
}

# Whether the lab starts with mail's faults (MDLAB_MAIL_FAULTS, default 1): SPF authorizing
# only the old address, the new address listed. With 0 the move's zone file already has the
# new SPF and the blocklist lists nothing: tests about other faults keep the zone's serials.
mail_faults() { [ "${MDLAB_MAIL_FAULTS:-1}" != 0 ]; }

start_named() { # ROLE NAME NS IP [PRIMARY]: named -g (foreground, log to stderr)
  local role=$1 name=$2 ns=$3 ip=$4 primary=${5:-} dir=$LAB/hosts/$2
  mkdir -p "$dir/named"
  render "named-$role.conf" "$dir/named.conf" HOST="$name" IP="$ip" HOSTDIR="$dir" NET="$NEW" \
    PRIMARY="$primary" KEYFILE="$LAB/keys/$KEY_NAME.key" UPDATE="" \
    ADMIN_KEYFILE="$LAB/keys/$ADMIN_KEY_NAME.key" ADMIN_KEY_NAME="$ADMIN_KEY_NAME" \
    DNSBL_SERVER="$ORG_IP"
  spawn "$ns" "$LAB/logs/named-$name.log" /usr/sbin/named -g -n 1 -c "$dir/named.conf"
}

# The canary's TSIG key, which may update example.org at the primary, and a key the primary
# does not know (a wrong key: NOTAUTH). Read by root only, as a key on an admin's laptop.
# And the lab's own admin key (never moveday's): it may write any name of example.org at
# the primary (fix-spf, break-spf) and of dnsbl.lab.test at the parent (delist, relist).
keys() {
  mkdir -m 700 "$LAB/keys"
  (
    umask 077
    tsig-keygen -a hmac-sha256 "$KEY_NAME" >"$LAB/keys/$KEY_NAME.key"
    tsig-keygen -a hmac-sha256 moveday-unknown >"$LAB/keys/unknown.key"
    tsig-keygen -a hmac-sha256 "$ADMIN_KEY_NAME" >"$LAB/keys/$ADMIN_KEY_NAME.key"
  ) || die "tsig-keygen failed"
  # The admin's SSH key, which every host's sshd accepts for root (command services).
  ssh-keygen -q -t ed25519 -N '' -C "lab admin $P" -f "$LAB/keys/$SSH_KEY_NAME" ||
    die "ssh-keygen failed"
}

# allow_updates: from now on the primary takes updates signed with the canary's key, of
# `_moveday-canary.example.org TXT` only (update-policy: BIND itself holds moveday to
# writing nothing else), and with the lab's admin key, of any name (the lab's SPF commands).
# Only now: named never reloads a dynamic zone from its file (SIGHUP keeps
# what it has, journal and all), and the move before this was a new file and SIGHUP.
allow_updates() {
  local dir=$LAB/hosts/ns-master
  render named-primary.conf "$dir/named.conf" HOST=ns-master IP="$NEW.10" HOSTDIR="$dir" \
    NET="$NEW" KEYFILE="$LAB/keys/$KEY_NAME.key" ADMIN_KEYFILE="$LAB/keys/$ADMIN_KEY_NAME.key" \
    UPDATE="update-policy { grant \"$KEY_NAME\" name _moveday-canary.example.org. TXT; \
grant \"$ADMIN_KEY_NAME\" zonesub ANY; };"
  kill -HUP "$(cat "$dir/named.pid")"
  wait_until 20 "the primary to take signed updates" update_allowed
}

# update_allowed: a signed update whose only content is a prerequisite (the zone exists)
# is answered NOERROR, and changes nothing (no serial bump), once updates are allowed.
update_allowed() {
  printf 'server %s\nzone example.org\nprereq yxdomain example.org\nsend\n' "$NEW.10" |
    ip netns exec "$LAPTOP" nsupdate -t 2 -k "$LAB/keys/$KEY_NAME.key"
}

# org_zone GLUE: the parent's zone (org.) with ns-master's glue at GLUE, a new serial.
org_zone() {
  local zone=$LAB/hosts/parent/named/org.zone
  ORG_SERIAL=$((ORG_SERIAL + 1))
  render org.zone "$zone.new" IP="$ORG_IP" NET="$NEW" SERIAL="$ORG_SERIAL" MASTER_GLUE="$1"
  mv "$zone.new" "$zone"
}

# glue_is ADDRESS: the parent's referral for example.org has ns-master's glue at ADDRESS.
glue_is() {
  [ "$(ip netns exec "$LAPTOP" dig +norecurse +time=1 +tries=1 "@$ORG_IP" example.org NS |
    awk '$1 == "ns-master.example.org." && $4 == "A" {print $5}')" = "$1" ]
}

# The parent: BIND authoritative for org., delegating example.org to the zone's own NS set,
# with glue for the in-zone names; the registrar still has ns-master's old address. And
# the lab's blocklist, dnsbl.lab.test, listing mail's new address (a dynamic zone: its
# file is read once, then delist and relist are signed updates).
start_parent() {
  mkdir -p "$LAB/hosts/parent/named"
  org_zone "$OLD.10"
  local listing="; nothing listed (MDLAB_MAIL_FAULTS=0)"
  mail_faults && listing="; mail's new address ($NEW.11), listed: code 127.0.0.2 and the list's reason.
11.113.0.203        IN A    127.0.0.2
11.113.0.203        IN TXT  \"$DNSBL_REASON\""
  render dnsbl.lab.test.zone "$LAB/hosts/parent/named/$DNSBL_ZONE.zone" IP="$ORG_IP" \
    LISTING="$listing"
  start_named parent parent "$ORG_NS" "$ORG_IP"
}

# The zone's story: the primary serves the pre-move zone; the laptop's resolver looks up
# drawable (TTL 3600, never lowered) and caches its old address; a secondary that was never
# told the new primary holds the old zone; then the primary gets the new addresses and a new
# serial, and the secondary that was told (on git) transfers it at once.
build_dns() {
  local primary=$NEW.10 zone
  zone=$LAB/hosts/ns-master/named/example.org.zone
  mkdir -p "$LAB/hosts/ns-master/named" "$LAB/hosts/drawable/named"
  zone_file "$zone" "$OLD" "$SERIAL_OLD" 300
  cp "$TEMPLATES/reverse.zone" "$LAB/hosts/ns-master/named/reverse.zone"
  start_parent
  start_named primary ns-master "$P-ns-master" "$primary"
  start_named resolver resolver "$RESOLVER" "$RESOLVER_IP" "$primary"
  # ns3, on drawable: still pointed at the old primary's address, with the zone it got
  # from there before the move.
  zone_file "$LAB/hosts/drawable/named/example.org.secondary" "$OLD" "$SERIAL_OLD" 300
  start_named secondary drawable "$P-drawable" "$NEW.14" "$OLD.10"
  wait_until 20 "the primary" serial_is "$primary" "$SERIAL_OLD"
  # Ready when it forwards the zone (the SOA: no host's name is cached before the move).
  wait_until 20 "the resolver" serial_is "$RESOLVER_IP" "$SERIAL_OLD"
  # The laptop asks for drawable before the move: cached for an hour.
  answers "$RESOLVER_IP" drawable.example.org "$OLD.14" || die "warming the resolver failed"
  start_named secondary git "$P-git" "$NEW.12" "$primary"
  wait_until 20 "ns2 on git to transfer the zone" serial_is "$NEW.12" "$SERIAL_OLD"
  wait_until 20 "ns3 on drawable to load its old zone" serial_is "$NEW.14" "$SERIAL_OLD"

  # The move: new addresses, new serial, reload (SIGHUP: named rereads changed zone files).
  local spf=$SPF_NEW listed=no
  mail_faults && spf=$SPF_OLD listed=yes
  zone_file "$zone.new" "$NEW" "$SERIAL_NEW" 60 "$spf"
  cat "$zone.new" >"$zone" && rm "$zone.new"
  kill -HUP "$(cat "$LAB/hosts/ns-master/named.pid")"
  wait_until 20 "the primary's new serial" serial_is "$primary" "$SERIAL_NEW"
  wait_until 20 "ns2 on git to transfer the new serial" serial_is "$NEW.12" "$SERIAL_NEW"
  serial_is "$NEW.14" "$SERIAL_OLD" || die "ns3 should still serve the old serial"
  allow_updates
  wait_until 20 "the parent's delegation with the old glue" glue_is "$OLD.10"
  # Mail, through the laptop's resolver: SPF authorizes only the old address and the
  # blocklist lists the new one (unless MDLAB_MAIL_FAULTS=0).
  wait_until 20 "the resolver to serve example.org's SPF \"$spf\"" spf_is "$spf"
  wait_until 20 "the resolver to serve the blocklist (listed: $listed)" listed_is "$listed"
}

wait_for_servers() {
  local h site port
  for h in "${HOSTS[@]}"; do
    wait_until 20 "sshd on $h" listening "$P-$h" 22
    for site in ${SITES[$h]:-}; do
      port=${site%%:*}
      wait_until 20 "nginx on $h:$port" listening "$P-$h" "$port"
    done
  done
  # Through the bridge, from the laptop: every host answers.
  for h in "${HOSTS[@]}"; do
    ip netns exec "$LAPTOP" ping -q -c 1 -W 2 "$(ip_of "$h")" >/dev/null ||
      die "$h does not answer ping from the laptop"
  done
}

# ------------------------------------------------------------------- the office

# The office (MDLAB_OFFICE=1): a vantage point where the lab's laptop is not. Another subnet,
# routed to the lab through the bridge namespace; its own caching resolver (which never saw
# drawable's old address) and its own hosts file (without the laptop's pinned entries); an
# sshd that takes one key, the laptop's keys/office. moveday there is the same binary as
# on the laptop (MDLAB_MOVEDAY): the namespaces share the file system.
office_wanted() { [ "${MDLAB_OFFICE:-0}" = 1 ]; }

build_office() {
  local dir=$LAB/hosts/office ns
  mkdir -p "$dir/named"
  # The link: a veth pair from the bridge namespace, which routes between br0 and it (it
  # still drops whatever is for the old network, in prerouting). The office's one route
  # goes to the lab; every namespace of the lab gets its route back to the office.
  ip netns add "$OFFICE"
  ip -n "$BRIDGE" link add v-office type veth peer name eth0 netns "$OFFICE"
  ip -n "$BRIDGE" addr add "$OFFICE_GW/24" dev v-office
  ip -n "$BRIDGE" link set v-office up
  ip netns exec "$BRIDGE" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$OFFICE" addr add "$OFFICE_IP/24" dev eth0
  ip -n "$OFFICE" link set eth0 up
  ip -n "$OFFICE" link set lo up
  ip -n "$OFFICE" route add "$NEW.0/24" via "$OFFICE_GW"
  for ns in $(our_namespaces "$P"); do
    case $ns in "$BRIDGE" | "$OFFICE") continue ;; esac
    ip -n "$ns" route add "$OFFICE_NET.0/24" via "$GATEWAY_IP"
  done

  # Its own hosts file (nothing pinned) and resolv.conf: its own caching resolver, on its
  # own address, forwarding the move's zones to the primary as the laptop's does. Started
  # after the move, it never cached an old answer: drawable and vbox resolve to their new
  # addresses there.
  mkdir -p "/etc/netns/$OFFICE"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n# lab %s: the office'"'"'s hosts file (nothing pinned)\n' \
    "$P" >"/etc/netns/$OFFICE/hosts"
  printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$OFFICE_IP" >"/etc/netns/$OFFICE/resolv.conf"
  render named-resolver.conf "$dir/named.conf" IP="$OFFICE_IP" HOSTDIR="$dir" \
    NET="$OFFICE_NET" PRIMARY="$NEW.10" DNSBL_SERVER="$ORG_IP"
  spawn "$OFFICE" "$LAB/logs/named-office.log" /usr/sbin/named -g -n 1 -c "$dir/named.conf"

  # sshd, key authentication only: keys/office (the laptop's) is authorized,
  # keys/office-unknown is a key the office does not know. The lab's known_hosts has the
  # office's host key: the laptop knows the office before it asks.
  ssh-keygen -q -t ed25519 -N '' -C "office lab $P" -f "$dir/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C "the laptop's key for the office, lab $P" -f "$LAB/keys/office"
  ssh-keygen -q -t ed25519 -N '' -C "a key the office does not know, lab $P" \
    -f "$LAB/keys/office-unknown"
  (umask 077 && cp "$LAB/keys/office.pub" "$dir/authorized_keys")
  printf '%s %s\n' "$OFFICE_IP" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" \
    >"$LAB/known_hosts"
  render sshd_config-office "$dir/sshd_config" IP="$OFFICE_IP" HOSTDIR="$dir"
  spawn "$OFFICE" "$LAB/logs/sshd-office.log" sh -c \
    'mount -t tmpfs -o mode=755,size=1m lab /run && mkdir -m 755 /run/sshd && exec "$@"' \
    sshd /usr/sbin/sshd -D -e -f "$dir/sshd_config"
}

office_answers() { # NAME ADDRESS: the office's resolver resolves NAME to ADDRESS
  [ "$(ip netns exec "$OFFICE" dig +short +time=1 +tries=1 "@$OFFICE_IP" "$1" A)" = "$2" ]
}

# office_ssh KEY: the laptop logs in to the office with keys/KEY (and runs `true`).
office_ssh() {
  ip netns exec "$LAPTOP" ssh -T -o BatchMode=yes -o ConnectTimeout=2 \
    -o UserKnownHostsFile="$LAB/known_hosts" -o StrictHostKeyChecking=yes \
    -o IdentitiesOnly=yes -i "$LAB/keys/$1" -- "root@$OFFICE_IP" true
}

wait_for_office() {
  wait_until 20 "sshd on the office" listening "$OFFICE" 22
  wait_until 20 "the office's resolver" office_answers drawable.example.org "$NEW.14"
  office_answers vbox.example.org "$NEW.13" || die "the office's resolver does not know vbox"
  ip netns exec "$OFFICE" ping -q -c 1 -W 2 "$NEW.13" >/dev/null ||
    die "vbox does not answer ping from the office"
  office_ssh office 2>>"$LAB/logs/ssh-office.log" ||
    die "the laptop cannot log in to the office with keys/office (see logs/ssh-office.log)"
  if office_ssh office-unknown 2>>"$LAB/logs/ssh-office.log"; then
    die "the office let keys/office-unknown in"
  fi
}

# The inventory's [ssh] and [[vantage]] office (a comment without the office).
office_inventory() {
  if ! office_wanted; then
    echo "# No vantage point: MDLAB_OFFICE=1 builds the office and adds it here."
    return
  fi
  cat <<EOF
[ssh]
# Given to every ssh moveday runs: the office's host key is in the lab's known_hosts
# (lab.sh wrote it) and nothing else is trusted; only the key given with -i is offered.
options = ["-o", "UserKnownHostsFile=$LAB/known_hosts", "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes"]

[[vantage]]
# Another subnet ($OFFICE_NET.0/24), its own resolver and hosts file. Its moveday is the
# same binary as the laptop's (the namespaces share the file system).
name = "office"
ssh = "root@$OFFICE_IP"
moveday = "${MDLAB_MOVEDAY:-moveday}"
ssh_options = ["-i", "$LAB/keys/office"]
every = "${MDLAB_VANTAGE_EVERY:-10s}"
EOF
}

fail_at() { [ "${MDLAB_FAIL_AT:-}" != "$1" ] || die "failing after '$1' on purpose (MDLAB_FAIL_AT)"; }

up() {
  LAB=$(mktemp -d "$STATE_DIR/$P.XXXXXX")
  chmod 755 "$LAB" # nginx's workers (www-data) read the pages
  mkdir -p "$LAB/logs" "$LAB/hosts"
  log "building in $LAB"
  build_network
  fail_at network
  pki
  keys
  local h
  for h in "${HOSTS[@]}"; do
    start_host "$h"
  done
  build_dns
  fail_at dns
  office_wanted && build_office
  wait_for_servers
  office_wanted && wait_for_office
  fail_at daemons
  local canary_key="canary_key = \"keys/$KEY_NAME.key\"   # the primary takes its updates"
  [ "${MDLAB_CANARY_KEY:-1}" != 0 ] || canary_key="# canary_key left out (MDLAB_CANARY_KEY=0)"
  render inventory.toml "$LAB/inventory.toml" PREFIX="$P" LAB="$LAB" NET="$NEW" \
    INTERVAL="${MDLAB_INTERVAL:-1s}" TIMEOUT="${MDLAB_TIMEOUT:-1s}" \
    DELEGATION_EVERY="${MDLAB_DELEGATION_EVERY:-2s}" CANARY_KEY="$canary_key" \
    CANARY_EVERY="${MDLAB_CANARY_EVERY:-500ms}" CANARY_DEADLINE="${MDLAB_CANARY_DEADLINE:-20s}" \
    DNSBL_EVERY="${MDLAB_DNSBL_EVERY:-2s}" OFFICE="$(office_inventory)"
}

# ------------------------------------------------------------------- fault commands

host_arg() {
  if [ -z "${1:-}" ] || [ -z "${OCTET[$1]:-}" ]; then
    echo "error unknown host '${1:-}' (one of ${HOSTS[*]})"
    return 1
  fi
}

cmd_pin_old() {
  host_arg "$1" || return 0
  printf '%s\t%s.example.org %s\t# %s\n' "$OLD.${OCTET[$1]}" "$1" "$1" "pinned before the move" \
    >>"/etc/netns/$LAPTOP/hosts"
  echo "ok $1.example.org pinned to $OLD.${OCTET[$1]}"
}

cmd_unpin() {
  host_arg "$1" || return 0
  local f=/etc/netns/$LAPTOP/hosts kept
  kept=$(grep -v "[[:space:]]$1\.example\.org[[:space:]]" "$f" || true)
  printf '%s\n' "$kept" >"$f" # in place: the bind mount follows the inode
  echo "ok $1 unpinned"
}

cmd_drop_port() {
  host_arg "$1" || return 0
  [[ ${2:-} =~ ^[0-9]+$ ]] || {
    echo "error drop-port HOST PORT"
    return 0
  }
  ip netns exec "$P-$1" nft -f - <<EOF
table inet $P {
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "eth0" tcp dport $2 drop
    }
}
EOF
  echo "ok $1 drops tcp/$2"
}

cmd_accept_port() {
  host_arg "$1" || return 0
  ip netns exec "$P-$1" nft delete table inet "$P" 2>/dev/null || true
  echo "ok $1 accepts every port"
}

cmd_stale() {
  [ "${1:-}" = www ] || {
    echo "error only www has a planet"
    return 0
  }
  local root=$LAB/hosts/www/www/planet
  planet "$(date -u -d '3 days ago' +'%Y-%m-%d %H:%M')"
  touch -d '3 days ago' "$root/index.html" "$root/rss20.xml"
  echo "ok planet last updated 3 days ago"
}

cmd_close_port() {
  host_arg "$1" || return 0
  local dir=$LAB/hosts/$1 files
  files=("$dir"/sites/"${2:-x}"-*.conf)
  [ ${#files[@]} -gt 0 ] || {
    echo "error nginx on $1 does not listen on ${2:-}"
    return 0
  }
  rm -f "${files[@]}"
  kill -HUP "$(cat "$dir/nginx.pid")"
  local deadline=$((SECONDS + 10))
  while listening "$P-$1" "$2"; do
    [ $SECONDS -lt $deadline ] || {
      echo "error port $2 still listening on $1"
      return 0
    }
    sleep 0.05
  done
  echo "ok nothing listens on $1:$2"
}

cmd_glue() { # ADDRESS: the parent publishes ns-master's glue at ADDRESS
  org_zone "$1"
  local pid deadline=$((SECONDS + 10)) polls=0
  pid=$(cat "$LAB/hosts/parent/named.pid")
  kill -HUP "$pid"
  until glue_is "$1"; do
    [ $SECONDS -lt $deadline ] || {
      echo "error the parent still does not serve ns-master's glue at $1"
      return 0
    }
    # named rereads a zone file only when its mtime is newer than its last load: should
    # the two fall in one tick of the clock, touch it and ask again.
    polls=$((polls + 1))
    if [ $((polls % 20)) = 0 ]; then
      touch "$LAB/hosts/parent/named/org.zone"
      kill -HUP "$pid"
    fi
    sleep 0.05
  done
  echo "ok the parent's glue for ns-master.example.org is $1 (org. serial $ORG_SERIAL)"
}

# admin_update SERVER ZONE LINES: a dynamic update signed with the lab's admin key, sent
# from the laptop (as the admin's own updates would be). Its output goes to the lab's log.
admin_update() {
  printf 'server %s\nzone %s\n%s\nsend\n' "$1" "$2" "$3" |
    ip netns exec "$LAPTOP" nsupdate -t 3 -k "$LAB/keys/$ADMIN_KEY_NAME.key" \
      >>"$LAB/logs/nsupdate.log" 2>&1
}

# spf_is TEXT: the laptop's resolver answers example.org's TXT (its one record) with TEXT.
spf_is() {
  [ "$(ip netns exec "$LAPTOP" dig +short +time=1 +tries=1 "@$RESOLVER_IP" "$MAIL_DOMAIN" TXT)" = "\"$1\"" ]
}

# listed_is yes|no: the laptop's resolver answers the blocklist's question about mail's new
# address with the listing (127.0.0.2 and the reason), or with NXDOMAIN.
listed_is() {
  local status a txt
  status=$(ip netns exec "$LAPTOP" dig +time=1 +tries=1 "@$RESOLVER_IP" "$DNSBL_NAME" A |
    sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
  if [ "$1" = no ]; then
    [ "$status" = NXDOMAIN ]
    return
  fi
  a=$(ip netns exec "$LAPTOP" dig +short +time=1 +tries=1 "@$RESOLVER_IP" "$DNSBL_NAME" A)
  txt=$(ip netns exec "$LAPTOP" dig +short +time=1 +tries=1 "@$RESOLVER_IP" "$DNSBL_NAME" TXT)
  [ "$status" = NOERROR ] && [ "$a" = 127.0.0.2 ] && [ "$txt" = "\"$DNSBL_REASON\"" ]
}

# until_resolver WHAT COMMAND...: polls (50 ms) until the laptop's resolver answers as
# COMMAND wants, at most 10 s (its cache holds these records 1 s); the command's answer.
until_resolver() {
  local what=$1 deadline=$((SECONDS + 10))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || {
      echo "error the laptop's resolver does not serve $what after 10 s"
      return 0
    }
    sleep 0.05
  done
  echo "ok the laptop's resolver serves $what"
}

cmd_spf() { # old|new|both: example.org's SPF record authorizes mail's OLD, NEW or both addresses
  local text
  case ${1:-new} in
  old) text=$SPF_OLD ;;
  new | "") text=$SPF_NEW ;;
  both) text=$SPF_BOTH ;;
  *)
    echo "error fix-spf [both]"
    return 0
    ;;
  esac
  admin_update "$NEW.10" "$MAIL_DOMAIN" "update delete $MAIL_DOMAIN. TXT
update add $MAIL_DOMAIN. 1 TXT \"$text\"" || {
    echo "error the primary refused the update (see $LAB/logs/nsupdate.log)"
    return 0
  }
  until_resolver "example.org's SPF \"$text\"" spf_is "$text"
}

cmd_listing() { # yes|no: the blocklist lists mail's new address, or not
  local lines="update delete $DNSBL_NAME."
  [ "$1" = no ] || lines="$lines
update add $DNSBL_NAME. 1 A 127.0.0.2
update add $DNSBL_NAME. 1 TXT \"$DNSBL_REASON\""
  admin_update "$ORG_IP" "$DNSBL_ZONE" "$lines" || {
    echo "error the blocklist's server refused the update (see $LAB/logs/nsupdate.log)"
    return 0
  }
  local what="$DNSBL_NAME as listed"
  [ "$1" = yes ] || what="NXDOMAIN for $DNSBL_NAME (delisted)"
  until_resolver "$what" listed_is "$1"
}

cmd_link() { # HOST up|down
  host_arg "$1" || return 0
  ip -n "$P-$1" link set eth0 "$2"
  echo "ok $1 link $2"
}

# Commands from stdin until end of input, or until the process that started the lab is gone
# (checked every second: a pipe's write end inherited by some other process would otherwise
# keep the lab alive after its test died).
serve() {
  local line cmd a b status
  while true; do
    if IFS= read -r -t 1 line; then
      read -r cmd a b <<<"$line" || true
      case $cmd in
      "") ;;
      ping) echo "ok pong" ;;
      pin-old) cmd_pin_old "${a:-}" ;;
      unpin) cmd_unpin "${a:-}" ;;
      drop-port) cmd_drop_port "${a:-}" "${b:-}" ;;
      accept-port) cmd_accept_port "${a:-}" ;;
      stale) cmd_stale "${a:-}" ;;
      close-port) cmd_close_port "${a:-}" "${b:-}" ;;
      link-down) cmd_link "${a:-}" down ;;
      link-up) cmd_link "${a:-}" up ;;
      fix-glue) cmd_glue "$NEW.10" ;;
      break-glue) cmd_glue "$OLD.10" ;;
      fix-spf) cmd_spf "${a:-}" ;;
      break-spf) cmd_spf old ;;
      delist) cmd_listing no ;;
      relist) cmd_listing yes ;;
      *) echo "error unknown command '$cmd'" ;;
      esac
    else
      status=$?
      [ "$status" -gt 128 ] || return 0 # end of input
      if ! kill -0 "$PARENT" 2>/dev/null; then
        log "the process that started the lab ($PARENT) is gone"
        return 0
      fi
    fi
  done
}

case ${1:-} in
run)
  trap teardown EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  trap 'exit 141' PIPE
  prerequisites || exit 3
  gc
  started=$SECONDS
  up
  log "ready in $((SECONDS - started))s"
  if [ -t 0 ]; then
    cat >&2 <<EOF
The lab is up. In another terminal:
    ip netns exec $LAPTOP $(command -v moveday || echo target/debug/moveday) -i $LAB/inventory.toml
Type commands (pin-old vbox, drop-port git 80, stale www, close-port jabber 5222,
link-down build, link-up build, fix-glue, break-glue, fix-spf, fix-spf both, break-spf,
delist, relist); Ctrl-D or Ctrl-C tears the lab down.
EOF
  fi
  echo "READY prefix=$P dir=$LAB laptop=$LAPTOP inventory=$LAB/inventory.toml"
  serve
  ;;
check)
  prerequisites || exit 3
  echo "a lab can be built here"
  ;;
gc) gc ;;
*)
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
