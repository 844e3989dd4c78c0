"""Fuzz targets: commitments, range proofs, solvency statements and proofs, and their
decoders fed mutated bytes and JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

from fuzzing.base import Target
from fuzzing.mutate import Args, Finding
from zkmargin import (
    Accounts,
    Instruments,
    MarginEngine,
    Market,
    proof,
)

# ------------------------------------------------------------------------- proof layer
_PROOF_CACHE: dict[str, Any] = {}


def _solvent_setup() -> tuple[Any, ...]:
    """One small solvent account (built once: proving costs tens of milliseconds)."""
    if "setup" not in _PROOF_CACHE:
        ins = Instruments([1, 3], [0, 0], [0.0, 60000.0], [0.0, 0.25], [1.0, 1.0], [0, 0])
        m = Market([60000.0], [0.0, 0.6], [1.0], [0.0])
        acc = Accounts([0, 2], [0, 1], [0.5, -1.0], [[100000.0]])
        eng = MarginEngine(ins)
        dec = proof.default_balance_decimals(m.asset_price)
        com, op = proof.commit_account(acc, 0, n_instruments=2, balance_decimals=dec)
        st = proof.build_statement(eng, m, com, "alice", epoch=1)
        pr = proof.prove_solvency(st, com, op)
        _PROOF_CACHE["setup"] = (ins, m, acc, eng, dec, com, op, st, pr)
    return _PROOF_CACHE["setup"]


def _range_setup() -> tuple[list[bytes], Any]:
    if "range" not in _PROOF_CACHE:
        _PROOF_CACHE["range"] = proof.prove_range([5, 2**40], n=64)
    return _PROOF_CACHE["range"]


class Commit(Target):
    name = "proof.commit"
    weight = 1.0

    def base(self, rng: np.random.Generator) -> Args:
        return {
            "fn": str(rng.choice(["commit", "q_units", "b_units", "decimals"])),
            "value": int(rng.integers(0, 2**40)),
            "blinding": int(rng.integers(1, 2**62)),
            "q": float(np.round(rng.uniform(-100, 100), 3)),
            "decimals": 6,
            "prices": np.round(10 ** rng.uniform(-2, 5, 2), 2),
        }

    def call(self, a: Args) -> Any:
        if a["fn"] == "commit":
            return proof.commit(a["value"], a["blinding"])
        if a["fn"] == "q_units":
            return proof.quantity_to_units(a["q"], a["decimals"])
        if a["fn"] == "b_units":
            return proof.balance_to_units(a["q"], a["decimals"])
        return proof.default_balance_decimals(a["prices"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        if a["fn"] == "commit":
            if not isinstance(out, bytes) or len(out) != 32:
                raise Finding(f"commitment {out!r} is not 32 bytes")
        elif a["fn"] in ("q_units", "b_units"):
            if not isinstance(out, int) or isinstance(out, bool):
                raise Finding(f"units {out!r} is not an int")
        elif not all(isinstance(d, int) and 0 <= d <= 18 for d in out):
            raise Finding(f"decimals {out!r}")


class RangeProofs(Target):
    name = "proof.range"
    weight = 1.0

    def base(self, rng: np.random.Generator) -> Args:
        coms, pr = _range_setup()
        return {
            "fn": str(rng.choice(["prove", "verify", "from_bytes", "from_json"])),
            "values": [int(rng.integers(0, 2**32))],
            "n": 32,
            "coms": list(coms),
            "proof_bytes": pr.to_bytes(),
            "proof_json": pr.to_json(),
            "verify_n": 64,
        }

    def call(self, a: Args) -> Any:
        if a["fn"] == "prove":
            coms, pr = proof.prove_range(a["values"], n=a["n"])
            return coms, pr, proof.verify_range(coms, pr, n=a["n"])
        if a["fn"] == "verify":
            _, pr = _range_setup()
            return proof.verify_range(a["coms"], pr, n=a["verify_n"])
        if a["fn"] == "from_bytes":
            pr = proof.RangeProof.from_bytes(a["proof_bytes"])
            return proof.verify_range(a["coms"], pr, n=64)
        pr = proof.RangeProof.from_json(a["proof_json"])
        return proof.verify_range(a["coms"], pr, n=64)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ok = out[2] if a["fn"] == "prove" else out
        if not isinstance(ok, bool):
            raise Finding(f"verify returned {ok!r}, not a bool")
        if a["fn"] == "prove" and not ok:
            raise Finding("a fresh range proof does not verify")
        if not mutated and not ok:
            raise Finding("the valid proof does not verify")


class Solvency(Target):
    name = "proof.solvency"
    weight = 1.5

    def base(self, rng: np.random.Generator) -> Args:
        *_, dec, com, op, st, pr = _solvent_setup()
        return {
            "fn": str(
                rng.choice(["commit_account", "statement", "verify", "decode_bytes", "decode_json", "prove"])
            ),
            "index": 0,
            "n_instruments": 2,
            "balance_decimals": list(dec),
            "account_id": "alice",
            "epoch": 1,
            "st_bytes": st.to_bytes(),
            "st_json": st.to_json(),
            "com_bytes": com.to_bytes(),
            "com_json": com.to_json(),
            "pr_bytes": pr.to_bytes(),
            "pr_json": pr.to_json(),
            "op_json": op.to_json(),
            "which": str(rng.choice(["statement", "commitment", "proof", "opening"])),
            "st": st,
            "com": com,
            "pr": pr,
        }

    mutable = (
        "index",
        "n_instruments",
        "balance_decimals",
        "account_id",
        "epoch",
        "st_bytes",
        "st_json",
        "com_bytes",
        "com_json",
        "pr_bytes",
        "pr_json",
        "op_json",
        "st",
        "com",
        "pr",
    )

    def call(self, a: Args) -> Any:
        _, m, acc, eng, _, com, op, st, pr = _solvent_setup()
        fn = a["fn"]
        if fn == "commit_account":
            return proof.commit_account(
                acc, a["index"], n_instruments=a["n_instruments"], balance_decimals=a["balance_decimals"]
            )
        if fn == "statement":
            return proof.build_statement(eng, m, com, a["account_id"], a["epoch"])
        if fn == "verify":
            return proof.verify_solvency(a["st"], a["com"], a["pr"])
        if fn == "prove":
            return proof.prove_solvency(a["st"], a["com"], op)
        if fn == "decode_bytes":
            w = a["which"]
            if w == "statement":
                return proof.verify_solvency(proof.SolvencyStatement.from_bytes(a["st_bytes"]), com, pr)
            if w == "commitment":
                return proof.verify_solvency(st, proof.AccountCommitment.from_bytes(a["com_bytes"]), pr)
            return proof.verify_solvency(st, com, proof.SolvencyProof.from_bytes(a["pr_bytes"]))
        w = a["which"]
        if w == "statement":
            return proof.verify_solvency(proof.SolvencyStatement.from_json(a["st_json"]), com, pr)
        if w == "commitment":
            return proof.verify_solvency(st, proof.AccountCommitment.from_json(a["com_json"]), pr)
        if w == "opening":
            return proof.AccountOpening.from_json(a["op_json"])
        return proof.verify_solvency(st, com, proof.SolvencyProof.from_json(a["pr_json"]))

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        fn = a["fn"]
        if fn in ("verify", "decode_bytes", "decode_json") and not (
            fn == "decode_json" and a["which"] == "opening"
        ):
            if not isinstance(out, bool):
                raise Finding(f"verify returned {out!r}, not a bool")
            if not mutated and not out:
                raise Finding("the valid proof does not verify")
