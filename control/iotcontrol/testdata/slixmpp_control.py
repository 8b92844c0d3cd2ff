#!/usr/bin/env python3
"""XEP-0325 peer built on slixmpp's xep_0325 plugin, for xiot's interop tests.

Usage:
  slixmpp_control.py controller JID PASSWORD HOST PORT CAFILE DEVICE_JID < STEPS_JSON
  slixmpp_control.py device JID PASSWORD HOST PORT CAFILE

controller: runs each step of STEPS_JSON (a list of
  {"kind": "request"|"plugin"|"command", "fields": [[name, type, value], ...],
   "nodes": [...]}) against DEVICE_JID and prints one JSON line per step:
  "request" sends an IQ built from the plugin's stanza classes and awaits
    the answer: {"step": i, "type": "result", "responseCode": ...} or
    {"step": i, "type": "error", "condition": ..., "etype": ...,
     "paramErrors": [[var, text], ...]};
  "plugin" uses the plugin's own set_request and prints its callback;
  "command" uses the plugin's set_command (a message; no answer).
device: serves node "Device01" with control fields Relay (boolean),
  Level (double), Count (int), Row1 (string) and Color (color), prints
  "ready" once online, then one JSON line {"name": ..., "value": ...} per
  field set, and runs until killed or 120 s have passed.
"""

import asyncio
import json
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0325.device import Device

TIMEOUT = 20
NS = "urn:xmpp:iot:control"


def make(jid, password, cafile):
    x = slixmpp.ClientXMPP(jid, password)
    x.ca_certs = cafile
    x.register_plugin("xep_0030")
    x.register_plugin("xep_0325")
    return x


def run_controller(jid, password, host, port, cafile, device, steps):
    x = make(jid, password, cafile)
    state = {"ok": False}

    async def start(_event):
        for i, step in enumerate(steps):
            kind = step["kind"]
            fields = [tuple(f) for f in step.get("fields", [])]
            nodes = step.get("nodes")
            if kind == "command":
                x["xep_0325"].set_command(x.boundjid.full, device, fields, nodeIds=nodes)
                print(json.dumps({"step": i, "type": "sent"}), flush=True)
            elif kind == "plugin":
                done = asyncio.get_running_loop().create_future()

                def callback(from_jid, result, nodeIds=None, fields=None, error_msg=None, done=done):
                    if not done.done():
                        done.set_result({"step": i, "type": "callback", "result": result, "error": error_msg})

                x["xep_0325"].set_request(x.boundjid.full, device, callback, fields, nodeIds=nodes)
                try:
                    print(json.dumps(await asyncio.wait_for(done, TIMEOUT)), flush=True)
                except asyncio.TimeoutError:
                    print(json.dumps({"step": i, "type": "timeout"}), flush=True)
            else:
                iq = x.Iq()
                iq["type"] = "set"
                iq["to"] = device
                for n in nodes or []:
                    iq["set"].add_node(n)
                for name, typename, value in fields:
                    iq["set"].add_data(name=name, typename=typename, value=value)
                try:
                    res = await iq.send(timeout=TIMEOUT)
                    print(json.dumps({"step": i, "type": "result",
                                      "responseCode": res["setResponse"]["responseCode"]}), flush=True)
                except IqError as e:
                    err = e.iq.xml.find("{jabber:client}error")
                    pes = [[p.get("var"), p.text or ""] for p in err.findall("{%s}paramError" % NS)] if err is not None else []
                    print(json.dumps({"step": i, "type": "error", "condition": e.condition, "etype": e.etype,
                                      "paramErrors": pes}), flush=True)
                except IqTimeout:
                    print(json.dumps({"step": i, "type": "timeout"}), flush=True)
        state["ok"] = True
        x.disconnect()

    x.add_event_handler("session_start", start)
    x.connect((host, int(port)))
    x.loop.run_until_complete(asyncio.wait_for(x.disconnected, 3 * TIMEOUT * max(1, len(steps))))
    sys.exit(0 if state["ok"] else 1)


class PrintingDevice(Device):
    """Device that reports every value set on stdout."""

    def _set_field_value(self, name, value):
        super()._set_field_value(name, value)
        print(json.dumps({"name": name, "value": value}), flush=True)


def run_device(jid, password, host, port, cafile):
    x = make(jid, password, cafile)
    d = PrintingDevice("Device01")
    d._add_control_field(name="Relay", typename="boolean", value="false")
    d._add_control_field(name="Level", typename="double", value="0")
    d._add_control_field(name="Count", typename="int", value="0")
    d._add_control_field(name="Row1", typename="string", value="")
    d._add_control_field(name="Color", typename="color", value="000000")
    x["xep_0325"].register_node(nodeId="Device01", device=d, commTimeout=10)

    async def start(_event):
        x.send_presence()
        print("ready", flush=True)

    x.add_event_handler("session_start", start)
    x.connect((host, int(port)))
    x.loop.run_until_complete(asyncio.wait_for(x.disconnected, 120))


def main():
    mode = sys.argv[1]
    if mode == "controller":
        run_controller(*sys.argv[2:8], json.load(sys.stdin))
    elif mode == "device":
        run_device(*sys.argv[2:7])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
