"""A small universe shared by the attestation tests: six instruments on one underlying,
USDC and BTC collateral, three scenarios, so that every solvency proof has m <= 32."""

from __future__ import annotations

from zkmargin import Accounts, Instruments, MarginEngine, Market, ScenarioTable
from zkmargin.attest import Book
from zkmargin.proof import commit_account
from zkmargin.proof.commitments import AccountCommitment, AccountOpening
from zkmargin.proof.snapshot import EpochSnapshot
from zkmargin.proof.table import build_snapshot

KIND = [0, 1, 2, 3, 4, 3]
EXPIRY = [0.0, 0.0, 0.25, 0.25, 0.25, 0.5]
STRIKE = [1.0, 1.0, 1.0, 60_000.0, 55_000.0, 70_000.0]
INS = Instruments(KIND, [0] * 6, STRIKE, EXPIRY, [1.0, 1.0, 1.0, 1.0, 1.0, 0.5], [0] * 6)
MARKET = Market(
    spot=[60_000.0],
    vol=[0.0, 0.0, 0.0, 0.6, 0.65, 0.55],
    asset_price=[1.0, 60_000.0],
    haircut=[0.0, 0.05],
    rate=0.02,
)
SCEN = ScenarioTable([[-0.15], [0.0], [0.15]], [[1.0], [0.0], [-1.0]], [[1.0], [1.0], [1.0]])
STRESS = ScenarioTable([[-0.4], [0.0], [0.4]], [[1.0], [0.0], [-1.0]], [[1.0], [1.0], [1.0]])
ENG = MarginEngine(INS, SCEN, aggregation="sum")
NAMES = ("BTC", "BTC-PERP", "BTC-F", "BTC-C60", "BTC-P55", "BTC-C70")
ASSETS = ("USDC", "BTC")


def snapshot(
    engine: MarginEngine = ENG, market: Market = MARKET, epoch: int = 7, **kw: object
) -> EpochSnapshot:
    return build_snapshot(engine, market, epoch, instrument_names=NAMES, asset_names=ASSETS, **kw)  # type: ignore[arg-type]


BASE = snapshot()
IDS = ("alice", "bob", "carol", "dave")
# dave is insolvent (equity 5,763 < MM 21,864); carol holds a negative BTC balance
BOOK = Book(
    IDS,
    Accounts.from_triples(
        [0, 0, 1, 2, 2, 3, 3],
        [1, 3, 2, 4, 0, 1, 3],
        [1.0, -0.5, -2.0, 1.5, 0.1, 3.0, -2.0],
        [[60_000.0, 0.2], [150_000.0, 0.0], [90_000.0, -0.05], [20_000.0, 0.0]],
    ),
)
RESERVES = [400_000 * 10 ** BASE.balance_decimals[0], 1 * 10 ** BASE.balance_decimals[1]]
FUND = 60_000 * 10**BASE.money_decimals


def one_account(
    snap: EpochSnapshot, rows: dict[int, float], usdc: float, btc: float = 0.0
) -> tuple[Accounts, AccountCommitment, AccountOpening]:
    ins = sorted(rows)
    acc = Accounts([0, len(ins)], ins, [rows[i] for i in ins], [[usdc, btc]])
    com, op = commit_account(acc, 0, n_instruments=len(INS), balance_decimals=snap.balance_decimals)
    return acc, com, op


#: equity 5,763 USD against a maintenance margin of 21,864 USD under the default
#: parameters, solvent if mm_factor were 0.01
INSOLVENT = ({1: 3.0, 3: -2.0}, 20_000.0)
