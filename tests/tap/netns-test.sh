#!/bin/sh
# SPDX-License-Identifier: MIT
# End to end over real network stacks: two network namespaces, each with a
# TAP device owned by an nc2-tap process; the two processes talk NetChannel2
# over the shm transport (backend in nc2a, frontend in nc2b). Addresses are
# from 198.18.0.0/15 (benchmarking range) and no route leaves the namespaces.
#
#   netns-test.sh NC2_TAP_BINARY
#
# Checks: ping (200 at 10 ms, 0% loss), jumbo ping (8972 octets, MTU 9000),
# iperf3 TCP for 5 s and UDP at a fixed rate, nc2 counters agree (nothing
# dropped inside libnc2, every buffer and grant returned at teardown), and a
# frontend killed mid-transfer: the backend fails that channel cleanly and
# serves a new frontend. Exits 77 (SKIP) without root/CAP_NET_ADMIN or TUN.
set -u

BIN=${1:?usage: netns-test.sh NC2_TAP_BINARY}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (CAP_NET_ADMIN) to create namespaces and TAP devices"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip ping iperf3; do
	command -v $t >/dev/null 2>&1 || skip "$t is not installed (make deps installs it)"
done
ip netns add nc2probe$$ 2>/dev/null || skip "cannot create network namespaces here"
ip netns del nc2probe$$

NSA=nc2a$$ NSB=nc2b$$
UUID=6e633274-6170-4000-8000-$(printf '%012x' $$)
WORK=$(mktemp -d /tmp/nc2-netns.XXXXXX)
RUN=$WORK/run
A=198.18.0.1 B=198.18.0.2
BE_PID= FE_PID= IPERF_PID=
fails=0

cleanup() {
	for p in $IPERF_PID $FE_PID $BE_PID; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $IPERF_PID $FE_PID $BE_PID; do kill -9 "$p" 2>/dev/null; done
	ip netns del $NSA 2>/dev/null
	ip netns del $NSB 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

check() { # check NAME CONDITION-RESULT(0/1) DETAIL
	if [ "$2" -eq 0 ]; then echo "PASS: $1 ($3)"; else echo "FAIL: $1 ($3)"; fails=$((fails + 1)); fi
}

ip netns add $NSA && ip netns add $NSB || exit 1
ip -n $NSA link set lo up
ip -n $NSB link set lo up
# IPv4 only: no IPv6 autoconfiguration chatter in the counters.
ip netns exec $NSA sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
ip netns exec $NSB sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null

start_backend() {
	ip netns exec $NSA "$BIN" --role backend --uuid $UUID --tap nc2t0 --run-dir "$RUN" \
		--mtu 9000 >>"$WORK/be.log" 2>&1 &
	BE_PID=$!
}
start_frontend() {
	ip netns exec $NSB "$BIN" --role frontend --uuid $UUID --tap nc2t1 --run-dir "$RUN" \
		--mtu 9000 >>"$WORK/fe.log" 2>&1 &
	FE_PID=$!
}
wait_link() { # ns dev
	i=0
	while ! ip -n "$1" link show "$2" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.05
	done
}
up_link() { # ns dev addr
	ip -n "$1" link set "$2" mtu 9000 gso_max_size 60000 2>/dev/null || ip -n "$1" link set "$2" mtu 9000
	ip -n "$1" addr add "$3/24" dev "$2" 2>/dev/null
	ip -n "$1" link set "$2" up
}
stats() { # pid log -> prints the newest stats block
	kill -USR1 "$1" 2>/dev/null; sleep 0.3
	awk '/stats \(/{b=""} {b=b $0 "\n"} END{printf "%s", b}' "$2" | sed -n '/stats (/,$p'
}

start_backend
wait_link $NSA nc2t0 || { echo "FAIL: backend TAP did not appear"; cat "$WORK/be.log"; exit 1; }
up_link $NSA nc2t0 $A
start_frontend
wait_link $NSB nc2t1 || { echo "FAIL: frontend TAP did not appear"; cat "$WORK/fe.log"; exit 1; }
up_link $NSB nc2t1 $B
sleep 0.5

# 1. ping, standard and jumbo
out=$(timeout 30 ip netns exec $NSA ping -c 200 -i 0.01 -W 1 $B 2>&1)
loss=$(echo "$out" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
check "ping -c 200 -i 0.01" "$([ "$loss" = 0 ] && echo 0 || echo 1)" "loss ${loss:-?}%: $(echo "$out" | tail -1)"
out=$(timeout 30 ip netns exec $NSA ping -c 50 -i 0.01 -s 8972 -M do -W 1 $B 2>&1)
loss=$(echo "$out" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
check "ping 8972-octet payload at MTU 9000" "$([ "$loss" = 0 ] && echo 0 || echo 1)" "loss ${loss:-?}%: $(echo "$out" | tail -1)"

# 2. iperf3 TCP 5 s and UDP at 200 Mbit/s
timeout 30 ip netns exec $NSB iperf3 -s -1 -B $B >"$WORK/iperf-s.log" 2>&1 &
IPERF_PID=$!
sleep 0.5
timeout 20 ip netns exec $NSA iperf3 -c $B -t 5 -f m >"$WORK/tcp.log" 2>&1
tcp=$(awk '/receiver/{print $(NF-2), $(NF-1)}' "$WORK/tcp.log" | tail -1)
check "iperf3 TCP 5 s" "$([ -n "$tcp" ] && echo 0 || echo 1)" "${tcp:-no result} (receiver)"
wait $IPERF_PID 2>/dev/null
timeout 30 ip netns exec $NSB iperf3 -s -1 -B $B >"$WORK/iperf-s2.log" 2>&1 &
IPERF_PID=$!
sleep 0.5
timeout 20 ip netns exec $NSA iperf3 -c $B -u -b 200M -t 3 -f m >"$WORK/udp.log" 2>&1
udp=$(awk '/receiver/{print}' "$WORK/udp.log" | tail -1)
udp_loss=$(echo "$udp" | sed -n 's/.*(\([0-9.e+-]*\)%).*/\1/p')
check "iperf3 UDP 200 Mbit/s 3 s" "$([ -n "$udp" ] && echo 0 || echo 1)" "${udp:-no result}"
wait $IPERF_PID 2>/dev/null
IPERF_PID=

# 3. counters: nothing dropped inside libnc2 on either side
be=$(stats $BE_PID "$WORK/be.log")
fe=$(stats $FE_PID "$WORK/fe.log")
echo "$be"
echo "$fe"
# Every frame is delivered or counted: a backend with no posted buffer drops
# and counts (no_buffer, like a NIC with an empty RX ring); nothing may be
# lost otherwise (copy failures, oversize, expired deferred copies).
drops() { echo "$1" | sed -n 's/.*drops: no_buffer \([0-9]*\) too_big \([0-9]*\) copy_failed \([0-9]*\) deferred_expired \([0-9]*\).*/\2 \3 \4/p' | tail -1; }
check "nothing lost inside libnc2 (backend)" "$([ "$(drops "$be")" = "0 0 0" ] && echo 0 || echo 1)" "too_big/copy_failed/expired: $(drops "$be")"
check "nothing lost inside libnc2 (frontend)" "$([ "$(drops "$fe")" = "0 0 0" ] && echo 0 || echo 1)" "too_big/copy_failed/expired: $(drops "$fe")"
acct() { # TAP frames read == sent on the channel + counted drops
	echo "$1" | awk '/tap: read/{gsub(",","");r=$3;d=$NF} /channel tx: packets/{t=$4} END{print r, t, d}' 
}
set -- $(acct "$be")
check "backend: every TAP frame sent or counted" "$([ -n "${1:-}" ] && [ "$1" -eq $(($2 + $3)) ] && echo 0 || echo 1)" "read ${1:-?} = sent ${2:-?} + dropped ${3:-?}"
set -- $(acct "$fe")
check "frontend: every TAP frame sent or counted" "$([ -n "${1:-}" ] && [ "$1" -eq $(($2 + $3)) ] && echo 0 || echo 1)" "read ${1:-?} = sent ${2:-?} + dropped ${3:-?}"
# The two processes are sampled one after the other while stray frames
# (ARP) may still flow: the frontend's count must lie between two backend
# samples taken before and after it.
be2=$(stats $BE_PID "$WORK/be.log")
betx=$(echo "$be" | sed -n 's/.*channel tx: packets \([0-9]*\).*/\1/p' | tail -1)
betx2=$(echo "$be2" | sed -n 's/.*channel tx: packets \([0-9]*\).*/\1/p' | tail -1)
ferx=$(echo "$fe" | sed -n 's/.*channel rx: packets \([0-9]*\).*/\1/p' | tail -1)
check "frontend rx agrees with backend tx" "$([ -n "$betx" ] && [ -n "$ferx" ] && [ "$betx" -le "$ferx" ] && [ "$ferx" -le "$betx2" ] && echo 0 || echo 1)" "backend $betx..$betx2, frontend $ferx"

# 4. kill the frontend mid-transfer; the backend must fail that channel
#    cleanly and serve a new frontend with the same UUID
timeout 15 ip netns exec $NSB iperf3 -s -1 -B $B >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.3
timeout 8 ip netns exec $NSA iperf3 -c $B -t 3 >/dev/null 2>&1 &
CLI=$!
sleep 1
kill -9 $FE_PID
wait $FE_PID 2>/dev/null
FE_PID=
wait $CLI 2>/dev/null
kill $IPERF_PID 2>/dev/null; wait $IPERF_PID 2>/dev/null; IPERF_PID=
sleep 0.5
grep -q "channel failed" "$WORK/be.log"
check "backend saw the frontend die" $? "$(grep -m1 'channel failed' "$WORK/be.log")"
kill -0 $BE_PID 2>/dev/null
check "backend still running" $? "pid $BE_PID"
rel=$(grep 'released:' "$WORK/be.log" | tail -1)
check "backend released the dead peer's mappings" "$(echo "$rel" | grep -q 'peer maps active 0' && echo 0 || echo 1)" "$rel"
start_frontend
wait_link $NSB nc2t1 || { echo "FAIL: new frontend TAP did not appear"; cat "$WORK/fe.log"; exit 1; }
up_link $NSB nc2t1 $B
sleep 0.5
out=$(timeout 30 ip netns exec $NSA ping -c 50 -i 0.01 -W 1 $B 2>&1)
loss=$(echo "$out" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
check "ping after a new frontend connected" "$([ "$loss" = 0 ] && echo 0 || echo 1)" "loss ${loss:-?}%"

# 5. orderly teardown: every buffer and grant returned
kill -TERM $FE_PID; wait $FE_PID 2>/dev/null; FE_PID=
kill -TERM $BE_PID; wait $BE_PID 2>/dev/null; BE_PID=
rel=$(grep 'released:' "$WORK/fe.log" | tail -1)
check "frontend teardown released every grant" "$(echo "$rel" | grep -q 'grants active 0, peer maps active 0' && echo 0 || echo 1)" "$rel"
out=$(grep -c 'buffers posted' "$WORK/fe.log")
st=$(awk '/stats \(shutdown\)/{f=1} f' "$WORK/fe.log" | sed -n 's/.*outstanding \([0-9]*\), tx in flight \([0-9]*\).*/\1 \2/p' | tail -1)
check "frontend: no buffer or packet outstanding after shutdown" "$([ "$st" = "0 0" ] && echo 0 || echo 1)" "outstanding/in flight: ${st:-?}"

echo "--- backend log"; cat "$WORK/be.log"
echo "--- frontend log"; cat "$WORK/fe.log"
[ $fails -eq 0 ] && echo "netns-test: all checks passed" || echo "netns-test: $fails check(s) failed"
[ $fails -eq 0 ]
