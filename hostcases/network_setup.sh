#!/usr/bin/env bash
# The network used by the host cases' network incidents, set up (as root) before recording caseA and caseB
# (written from the machine's state during the recordings: the namespace, the addresses, the server):
# a veth pair veth-pyml (10.77.0.1/24, this host) <-> veth-ns (10.77.0.2/24, network namespace pymlns),
# with an iperf3 server in the namespace. The incidents then run `iperf3 -c 10.77.0.2 ...`, which the agent
# sees as traffic sent on net.veth-pyml.
#
# Started this way the server is outside the recorder's cgroup, so record_case.py confines it with the
# other users' work and counts its CPU as foreign (see record_case.py). Run the last line from the
# schedule's "setup" list instead to keep it inside the recording.
set -euo pipefail
ip netns add pymlns
ip link add veth-pyml type veth peer name veth-ns
ip link set veth-ns netns pymlns
ip addr add 10.77.0.1/24 dev veth-pyml
ip link set veth-pyml up
ip netns exec pymlns ip addr add 10.77.0.2/24 dev veth-ns
ip netns exec pymlns ip link set veth-ns up
ip netns exec pymlns ip link set lo up
ip netns exec pymlns iperf3 -s -D
