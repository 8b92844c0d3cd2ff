#!/usr/bin/env python3
"""XEP-0323 peer built on slixmpp's xep_0323 plugin, for xiot's interop tests.

Usage:
  slixmpp_peer.py client JID PASSWORD HOST PORT CAFILE DEVICE_JID < REQUESTS_JSON
  slixmpp_peer.py device JID PASSWORD HOST PORT CAFILE

client: sends each request of REQUESTS_JSON (a list of
  {"nodes": [...], "fields": [...], "flags": {...}}) in turn to DEVICE_JID,
  prints every callback as a JSON line {"req": i, "result": ..., ...} and
  waits for done, failure or rejected before the next; exits 0 when all are
  answered, 1 on timeout.
device: serves node "Device01" with a field of every type the plugin knows,
  prints "ready" once online, and runs until killed or 120 s have passed.
"""

import asyncio
import json
import logging
import sys

import slixmpp
from slixmpp.plugins.xep_0323.device import Device

TIMEOUT = 20


def make(jid, password, cafile):
    x = slixmpp.ClientXMPP(jid, password)
    x.ca_certs = cafile
    x.register_plugin("xep_0030")
    x.register_plugin("xep_0323", {"threaded": False})
    return x


def run_client(jid, password, host, port, cafile, device, requests):
    x = make(jid, password, cafile)
    state = {"ok": False}

    async def start(_event):
        for i, req in enumerate(requests):
            finished = asyncio.get_running_loop().create_future()

            def callback(from_jid, result, nodeId=None, timestamp=None, fields=None, error_msg=None, i=i, finished=finished):
                print(json.dumps({"req": i, "from": str(from_jid), "result": result, "nodeId": nodeId,
                                  "timestamp": timestamp, "fields": fields, "error": error_msg}), flush=True)
                if result in ("done", "failure", "rejected") and not finished.done():
                    finished.set_result(result)

            x["xep_0323"].request_data(x.boundjid.full, device, callback,
                                       nodeIds=req.get("nodes"), fields=req.get("fields"), flags=req.get("flags"))
            try:
                await asyncio.wait_for(finished, TIMEOUT)
            except asyncio.TimeoutError:
                print(json.dumps({"req": i, "result": "timeout"}), flush=True)
                x.disconnect()
                return
        state["ok"] = True
        x.disconnect()

    x.add_event_handler("session_start", start)
    x.connect((host, int(port)))
    x.loop.run_until_complete(asyncio.wait_for(x.disconnected, 3 * TIMEOUT * max(1, len(requests))))
    sys.exit(0 if state["ok"] else 1)


def run_device(jid, password, host, port, cafile):
    x = make(jid, password, cafile)
    d = Device("Device01")
    d._add_field(name="Temperature", typename="numeric", unit="°C")
    d._add_field(name="Open", typename="boolean")
    d._add_field(name="Status", typename="string")
    d._add_field(name="Serviced", typename="dateTime")
    d._add_field(name="Uptime", typename="timeSpan")
    d._add_field(name="Mode", typename="enum", dataType="urn:example:mode")
    d._set_momentary_timestamp("2013-03-07T16:24:30")
    d._add_field_momentary_data("Temperature", "23.4", flags={"automaticReadout": "true"})
    d._add_field_momentary_data("Open", "true")
    d._add_field_momentary_data("Status", "all well")
    d._add_field_momentary_data("Serviced", "2013-01-02T03:04:05")
    d._add_field_momentary_data("Uptime", "PT1H2M3S")
    d._add_field_momentary_data("Mode", "auto")
    for h, v in ((10, "21.5"), (11, "22.0"), (12, "22.5")):
        d._add_field_timestamp_data("Temperature", "2013-03-07T%02d:00:00" % h, v, flags={"historicalHour": "true"})
    x["xep_0323"].register_node("Device01", d, commTimeout=10)

    def ready(_event):
        print("ready", flush=True)

    x.add_event_handler("session_start", ready)
    x.connect((host, int(port)))
    x.loop.run_until_complete(asyncio.wait_for(x.disconnected, 120))


def main(argv):
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if len(argv) == 8 and argv[1] == "client":
        run_client(*argv[2:7], argv[7], json.loads(sys.stdin.read()))
    elif len(argv) == 7 and argv[1] == "device":
        run_device(*argv[2:7])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
