"""The count signs in the console (issue 13 item 3): the demo's stand-in signs (examples/console.toml) follow
the console's own entries at once, and a sign that fails shows in the device health panel, is retried and
comes back, while the lanes go on."""

from __future__ import annotations

import asyncio

from attendant.demo import demo_config
from hardware.base import DeviceState
from tests.tui.support import SIZE, console, pilot_test, settle, text_of, until

ACTOR = "signs-test"


@pilot_test
async def test_demo_signs_follow_entries_and_a_broken_sign_shows_in_device_health(engine, clock):
    config = demo_config()
    assert [s.name for s in config.signs] == ["IN", "L0", "L1", "EV"]
    app = console(engine, clock, config, actor=ACTOR)
    app.device_hub.monitor = False  # the test polls when it wants to

    async def poll() -> None:
        await asyncio.to_thread(app.device_hub.poll, wait=True)
        await settle(pilot)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.booth.sign_board
        links = board.links
        await until(pilot, lambda: all(link.shown is not None for link in links.values()))
        free_in, free_ev = links["IN"].shown.free, links["EV"].shown.free
        assert free_in > free_ev > 0
        await poll()
        panel = text_of(app, "#devices")
        assert f"signs  IN {free_in}  L0 {links['L0'].shown.free}  L1 {links['L1'].shown.free}  EV {free_ev}" in panel

        entry = await asyncio.to_thread(app.service.enter, "SG1 NAL", "car", actor=ACTOR, ev=True)
        # each sign is written by its own thread (hardware/writer.py): wait for both, not for IN alone
        await until(pilot, lambda: links["IN"].shown.free == free_in - 1 and links["EV"].shown.free == free_ev - 1)
        assert links["IN"].shown.free == free_in - 1 and links["EV"].shown.free == free_ev - 1
        assert entry.spot_label.startswith("L0")

        links["EV"].sign.broken = True  # the EV sign stops answering
        await asyncio.to_thread(app.service.enter, "SG2 NAL", "car", actor=ACTOR, ev=True)
        await until(pilot, lambda: board.status()["EV"].state == DeviceState.FAULTED)
        await until(pilot, lambda: links["IN"].shown.free == free_in - 2)  # the other signs go on
        await poll()
        panel = text_of(app, "#devices")
        assert "EV ✗ faulted" in panel and "✗ sign EV faulted since" in panel and "not answering" in panel
        assert any("sign EV: faulted" in n.message for n in app._notifications)

        links["EV"].sign.broken = False  # back: retried with back-off, shows the count as it is now
        await until(pilot, lambda: board.status()["EV"].state == DeviceState.OK)
        await poll()
        assert f"EV {free_ev - 2}" in text_of(app, "#devices")
