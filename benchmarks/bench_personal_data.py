"""What personal data at rest costs an entry and an exit, in CPU time, against the ticket signing they already did.

Usage: ``python benchmarks/bench_personal_data.py [--n N] [--json]``

Measures, on this machine, with the project's own objects
(:class:`attendant.core.personal_data.PersonalData`,
:class:`attendant.core.tickets.TicketSigner`), the microseconds of each
operation an entry or exit now adds: sealing a plate (AES-256-GCM with a fresh
nonce), its two blind indexes (HMAC-SHA256), the ticket code's keyed hash;
opening a plate and finding a code from its hash at the exit. The same-run
baseline is the ticket signature (HMAC-SHA256) every entry computed before.
Prints the added microseconds per entry and per exit: compare them with the
milliseconds an entry takes (``benchmarks/bench_lanes.py``: a transaction with
fsync is 2-5 ms on this machine), which is why the lanes' throughput does not
move beyond its noise.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attendant.core.personal_data import PersonalData  # noqa: E402
from attendant.core.tickets import TicketSigner  # noqa: E402
from attendant.keyfiles import DataKeys  # noqa: E402


def per_op(fn, items, rounds: int = 5) -> float:
    """Median over ``rounds`` of the microseconds per call of ``fn`` over ``items``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            fn(item)
        times.append((time.perf_counter() - start) / len(items) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pd = PersonalData(DataKeys({"1": secrets.token_bytes(32)}, "1", secrets.token_bytes(32)))
    signer = TicketSigner({"A": os.urandom(32), "B": os.urandom(32)}, "B")
    plates = [f"BE{n:05d}X" for n in range(args.n)]
    sealed = [pd.seal(p) for p in plates]
    codes = [signer.sign("CHS", n) for n in range(args.n)]
    stored = {n: pd.code_hash(c) for n, c in enumerate(codes)}
    pd._code_hashes.clear()

    def fresh_hash(code):  # the cache is cleared: the first look-up of a code
        pd._code_hashes.clear()
        return pd.code_hash(code)

    def code_of(n):  # a reprint or a view: sign again under the current key, match the stored hash
        for code in signer.codes_for("CHS", n):
            if pd.code_hash(code) == stored[n]:
                return code
        return None

    figures = {
        "sign_ticket_us (baseline, already in every entry)": per_op(lambda n: signer.sign("CHS", n), range(args.n)),
        "seal_plate_us": per_op(pd.seal, plates),
        "plate_indexes_us": per_op(lambda p: (pd.plate_index(p), pd.plate_fold_index(p)), plates),
        "code_hash_us": per_op(fresh_hash, codes),
        "open_plate_us": per_op(pd.open, sealed),
        "code_of_us": per_op(code_of, range(args.n)),
    }
    figures["added_per_entry_us"] = (figures["seal_plate_us"] + figures["plate_indexes_us"]
                                     + figures["code_hash_us"])
    # an exit: the code checked against its hash, and the session's view (plate opened, code found) made
    # about twice (the checkout, then the result)
    figures["added_per_exit_us"] = figures["code_hash_us"] + 2 * (figures["open_plate_us"] + figures["code_of_us"])
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.n} operations each, median of 5 rounds (microseconds per operation):")
    for name, value in figures.items():
        print(f"  {name:<52}{value:>8.1f}")


if __name__ == "__main__":
    main()
