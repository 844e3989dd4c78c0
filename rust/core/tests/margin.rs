//! Margin engine checks against hand-computed values and the model's invariants.

use zkmargin_core::error::ErrorKind;
use zkmargin_core::isa::Isa;
use zkmargin_core::margin::{Aggregation, Engine, Model, N_FIELDS, Options, Params};
use zkmargin_core::model::{Book, Collateral, Instruments, Prices};
use zkmargin_core::netting::SpanRules;
use zkmargin_core::risk::SettlementMode;
use zkmargin_core::scenarios::ScenarioTable;

/// The values of `zkmargin.MarginParams()` (the defaults are defined in Python only).
fn params() -> Params {
    Params {
        linear_im: 0.10,
        linear_mm: 0.05,
        option_im_base: 0.15,
        option_im_floor: 0.10,
        option_mm: 0.075,
        im_factor: 1.0,
        mm_factor: 0.8,
        annual_move_risk: 0.075,
        min_annual_move: 0.01,
        short_option_min: 0.003,
    }
}

/// Two underlyings: linear perp, inverse perp, linear future, calls/puts (one inverse).
fn engine(aggregation: Aggregation) -> Engine {
    let ins = Instruments::new(
        &[1, 1, 2, 3, 4, 3, 0],
        &[0, 0, 0, 0, 0, 1, 1],
        &[0.0, 0.0, 0.0, 110.0, 90.0, 2000.0, 0.0],
        &[0.0, 0.0, 0.5, 0.25, 0.1, 0.05, 0.0],
        &[1.0, 10.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        &[0, 1, 0, 0, 1, 0, 0],
        2,
    )
    .unwrap();
    // Three moves per underlying, vol up/down on the outer ones.
    let moves = [-0.1, -0.2, 0.0, 0.0, 0.1, 0.2, -0.1, 0.2, 0.1, -0.2];
    let shocks = [1.0, 1.0, 0.0, 0.0, -1.0, -1.0, 0.0, 0.0, 0.0, 0.0];
    let weights = [1.0; 10];
    let table =
        ScenarioTable::new(&moves, &shocks, &weights, 5, 2, 0.5, 0.25, 0.3, 0.13, 0.5).unwrap();
    Engine::new(ins, table, params(), aggregation).unwrap()
}

const SPOT: [f64; 2] = [100.0, 2000.0];
const VOL: [f64; 7] = [0.0, 0.0, 0.0, 0.6, 0.7, 0.8, 0.0];
const PRICE: [f64; 2] = [1.0, 100.0];
const HAIRCUT: [f64; 2] = [0.0, 0.1];

fn prices() -> Prices<'static> {
    Prices {
        spot: &SPOT,
        vol: &VOL,
        forward: None,
        rate: 0.02,
    }
}

fn coll() -> Collateral<'static> {
    Collateral {
        price: &PRICE,
        haircut: &HAIRCUT,
    }
}

/// Runs the whole-book path and returns (block, worst) for a book of the given accounts.
fn run(
    e: &Engine,
    accounts: &[(Vec<i64>, Vec<f64>, [f64; 2])],
    model: Model,
) -> (Vec<Vec<f64>>, Vec<i64>) {
    run_on(Isa::best(), e, accounts, model)
}

fn run_on(
    isa: Isa,
    e: &Engine,
    accounts: &[(Vec<i64>, Vec<f64>, [f64; 2])],
    model: Model,
) -> (Vec<Vec<f64>>, Vec<i64>) {
    let mut offsets = vec![0i64];
    let (mut ins, mut qty, mut bal) = (vec![], vec![], vec![]);
    for (i, q, b) in accounts {
        ins.extend_from_slice(i);
        qty.extend_from_slice(q);
        bal.extend_from_slice(b);
        offsets.push(ins.len() as i64);
    }
    let book = Book {
        offsets: &offsets,
        instrument: &ins,
        quantity: &qty,
        balances: &bal,
        n_assets: 2,
    };
    let out = e.compute_on(isa, &prices(), &coll(), &book, model).unwrap();
    (out.fields, out.worst)
}

fn field(fields: &[Vec<f64>], n_a: usize, f: usize, a: usize) -> f64 {
    assert_eq!(fields.len(), N_FIELDS);
    assert_eq!(fields[f].len(), n_a);
    fields[f][a]
}

#[test]
fn single_linear_perp_by_hand() {
    let e = engine(Aggregation::Sum);
    let (block, worst) = run(
        &e,
        &[(vec![0], vec![2.0], [1000.0, -1.0])],
        Model::Portfolio,
    );
    // Long 2 x 100: worst move of underlying 0 is -10% (first in scenario 0) -> loss 20;
    // roll: the perp bucket pays min_annual_move, 1% of 200.
    let wcl = field(&block, 1, 5, 0);
    let roll = field(&block, 1, 6, 0);
    assert!((wcl - 20.0).abs() < 1e-9, "{wcl}");
    assert!((roll - 2.0).abs() < 1e-12, "{roll}");
    assert_eq!(worst[0], 0);
    assert!((field(&block, 1, 2, 0) - 0.8 * 22.0).abs() < 1e-9);
    // Equity: 1000 USD, -1 borrowed asset at 100 grossed up 10%; perps carry no MtM.
    assert!((field(&block, 1, 0, 0) - (1000.0 - 110.0)).abs() < 1e-9);
    // Standard: 10% IM / 5% MM of 200 notional.
    let (block, worst) = run(&e, &[(vec![0], vec![2.0], [1000.0, 0.0])], Model::Standard);
    assert!((field(&block, 1, 1, 0) - 20.0).abs() < 1e-12);
    assert!((field(&block, 1, 2, 0) - 10.0).abs() < 1e-12);
    assert_eq!(worst[0], -1);
}

#[test]
fn hedge_has_no_scenario_loss_or_roll() {
    let e = engine(Aggregation::Joint);
    let (block, _) = run(
        &e,
        &[(vec![3, 0, 3, 0], vec![-2.5, 1.0, 2.5, -1.0], [0.0, 0.0])],
        Model::Portfolio,
    );
    assert_eq!(field(&block, 1, 5, 0), 0.0);
    assert_eq!(field(&block, 1, 6, 0), 0.0);
}

#[test]
fn netting_and_model_ordering() {
    let rows = (
        vec![0i64, 1, 2, 3, 4, 5, 6],
        vec![1.5, -40.0, -1.0, -2.0, 3.0, -1.0, 0.7],
    );
    for agg in [
        Aggregation::Sum,
        Aggregation::Joint,
        Aggregation::Correlation(vec![1.0, 0.3, 0.3, 1.0]),
    ] {
        let e = engine(agg);
        let book = vec![(rows.0.clone(), rows.1.clone(), [5000.0, 0.0])];
        let alone: Vec<_> = rows
            .0
            .iter()
            .zip(&rows.1)
            .map(|(&i, &q)| (vec![i], vec![q], [0.0, 0.0]))
            .collect();
        for model in [Model::Standard, Model::Cross, Model::Portfolio] {
            let (together, _) = run(&e, &book, model);
            let (parts, _) = run(&e, &alone, model);
            let sum_mm: f64 = (0..alone.len())
                .map(|a| field(&parts, alone.len(), 2, a))
                .sum();
            assert!(
                field(&together, 1, 2, 0) <= sum_mm * (1.0 + 1e-12),
                "{model:?}"
            );
        }
        let (std, _) = run(&e, &book, Model::Standard);
        let (cross, _) = run(&e, &book, Model::Cross);
        assert!(field(&cross, 1, 1, 0) <= field(&std, 1, 1, 0));
        assert_eq!(field(&cross, 1, 0, 0), field(&std, 1, 0, 0));
    }
}

/// [`engine`]'s book with a dampener on every scenario row (edges at the moves) and the
/// coin collateral (asset 1) shocked with underlying 1.
fn damped_engine() -> Engine {
    let base = engine(Aggregation::Sum);
    let moves = [-0.1, -0.2, 0.0, 0.0, 0.1, 0.2, -0.1, 0.2, 0.1, -0.2];
    let damp = [3.0, 1.0, 0.5, 0.0, 2.0, 4.0, 0.0, 1.0, 1.5, 0.5];
    let table = base.table.clone().with_extended(&moves, &damp).unwrap();
    let options = Options {
        asset_underlying: vec![-1, 1],
        ..Options::default()
    };
    Engine::with_options(base.instruments, table, params(), Aggregation::Sum, options).unwrap()
}

#[test]
fn thread_count_and_instruction_set_do_not_change_bits() {
    let accounts: Vec<_> = (0..5000)
        .map(|a| {
            let n = a % 7;
            let ins: Vec<i64> = (0..n).map(|k| ((a * 3 + k) % 7) as i64).collect();
            let q: Vec<f64> = (0..n)
                .map(|k| ((a * 31 + k * 17) % 23) as f64 - 11.0)
                .collect();
            (ins, q, [1000.0 + a as f64, (a % 3) as f64 - 1.0])
        })
        .collect();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let bits = |f: &[Vec<f64>]| f.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
    let rho = vec![1.0, 0.3, 0.3, 1.0];
    let engines = [
        engine(Aggregation::Sum),
        engine(Aggregation::Joint),
        engine(Aggregation::Correlation(rho)),
        engine(span()),
        damped_engine(),
    ];
    for e in &engines {
        let name = format!("{:?}", e.aggregation);
        let a = one.install(|| run(e, &accounts, Model::Portfolio));
        let b = two.install(|| run(e, &accounts, Model::Portfolio));
        assert_eq!(bits(&a.0), bits(&b.0), "{name}");
        assert_eq!(a.1, b.1, "{name}");
        assert!(
            a.1.iter().any(|&w| w >= 0),
            "{name}: some account has a worst scenario"
        );
        for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
            for model in [Model::Standard, Model::Cross, Model::Portfolio] {
                let (want, got) = (
                    run_on(Isa::Portable, e, &accounts, model),
                    run_on(isa, e, &accounts, model),
                );
                assert_eq!(bits(&want.0), bits(&got.0), "{isa:?} {model:?} {name}");
                assert_eq!(want.1, got.1);
            }
        }
    }
}

/// (offsets, instrument, quantity, expected kind, expected field)
type BadBook = (
    &'static [i64],
    &'static [i64],
    &'static [f64],
    ErrorKind,
    &'static str,
);

#[test]
fn bad_books_are_typed_errors() {
    let e = engine(Aggregation::Sum);
    let bal = [0.0; 4];
    let cases: [BadBook; 5] = [
        (
            &[0, 2, 1],
            &[0, 1],
            &[1.0, 1.0],
            ErrorKind::Offsets,
            "offsets",
        ),
        (
            &[1, 1, 2],
            &[0, 1],
            &[1.0, 1.0],
            ErrorKind::Offsets,
            "offsets",
        ),
        (
            &[0, 1, 3],
            &[0, 1],
            &[1.0, 1.0],
            ErrorKind::Offsets,
            "offsets",
        ),
        (
            &[0, 1, 2],
            &[0, 7],
            &[1.0, 1.0],
            ErrorKind::IndexOutOfRange,
            "instrument",
        ),
        (
            &[0, 1, 2],
            &[0, 1],
            &[1.0, f64::NAN],
            ErrorKind::NonFinite,
            "quantity",
        ),
    ];
    for (off, ins, q, kind, field) in cases {
        let book = Book {
            offsets: off,
            instrument: ins,
            quantity: q,
            balances: &bal,
            n_assets: 2,
        };
        let err = e
            .compute(&prices(), &coll(), &book, Model::Portfolio)
            .unwrap_err();
        assert_eq!((err.kind, err.field.as_str()), (kind, field), "{err}");
    }
    let book = Book {
        offsets: &[0, 1],
        instrument: &[0],
        quantity: &[1.0],
        balances: &bal,
        n_assets: 2,
    };
    let err = e
        .compute(&prices(), &coll(), &book, Model::Portfolio)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Shape);
    let vol = [0.0; 7];
    let px = Prices {
        spot: &SPOT,
        vol: &vol,
        forward: None,
        rate: 0.0,
    };
    assert_eq!(
        e.validate_prices(&px).unwrap_err().kind,
        ErrorKind::NonPositive
    );
}

/// The whole-book pass checks each chunk of accounts as it reaches it; the error is still
/// the first bad value of the whole book, column by column, wherever it lies.
#[test]
fn bad_values_in_any_chunk_give_the_whole_book_error() {
    let e = engine(Aggregation::Sum);
    let n_a = 10_000;
    let offsets: Vec<i64> = (0..=n_a).map(|a| 2 * a as i64).collect();
    let good_ins: Vec<i64> = (0..2 * n_a).map(|r| (r % 7) as i64).collect();
    let good_qty: Vec<f64> = (0..2 * n_a).map(|r| (r % 5) as f64 - 2.0).collect();
    let good_bal: Vec<f64> = (0..2 * n_a).map(|j| (j % 3) as f64).collect();
    // (instrument row, quantity row, balance entry) to spoil, None: left alone.
    let cases = [
        (Some(19_999), None, None),
        (Some(12_345), Some(7), None),
        (None, Some(4_097), Some(3)),
        (None, None, Some(19_999)),
        (Some(5_000), Some(4_999), Some(0)),
    ];
    for (bad_i, bad_q, bad_b) in cases {
        let (mut ins, mut qty, mut bal) = (good_ins.clone(), good_qty.clone(), good_bal.clone());
        if let Some(r) = bad_i {
            ins[r] = 7;
        }
        if let Some(r) = bad_q {
            qty[r] = f64::INFINITY;
        }
        if let Some(j) = bad_b {
            bal[j] = 2e15;
        }
        let book = Book {
            offsets: &offsets,
            instrument: &ins,
            quantity: &qty,
            balances: &bal,
            n_assets: 2,
        };
        let want = e.validate_book(&prices(), &coll(), &book).unwrap_err();
        let (field, row) = match (bad_i, bad_q, bad_b) {
            (Some(r), _, _) => ("instrument", r),
            (None, Some(r), _) => ("quantity", r),
            (None, None, Some(j)) => ("balances", j),
            _ => unreachable!(),
        };
        assert_eq!(
            (want.field.as_str(), want.index),
            (field, Some(row)),
            "{want}"
        );
        for model in [Model::Standard, Model::Portfolio] {
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let got = pool
                    .install(|| e.compute(&prices(), &coll(), &book, model))
                    .unwrap_err();
                assert_eq!(got, want, "{model:?} {threads} threads");
            }
        }
    }
}

#[test]
fn expired_and_malformed_instruments_are_rejected() {
    let err = Instruments::new(&[3], &[0], &[100.0], &[0.0], &[1.0], &[0], 1).unwrap_err();
    assert_eq!(
        (err.kind, err.field.as_str(), err.index),
        (ErrorKind::Expired, "expiry", Some(0))
    );
    let err = Instruments::new(&[9], &[0], &[1.0], &[1.0], &[1.0], &[0], 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Parameter);
    let err = Instruments::new(&[1], &[3], &[0.0], &[0.0], &[1.0], &[0], 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::IndexOutOfRange);
    let err = Instruments::new(&[0], &[0], &[0.0], &[0.0], &[1.0], &[1], 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Parameter);
}

#[test]
fn moved_margin_is_move_then_margin() {
    // Every instrument (both underlyings, options and linear), moved up, down, through zero
    // and to zero, from margined (fresh) and unmargined sums, under every aggregation.
    let (ins, qty) = (
        [0i64, 1, 2, 3, 4, 5, 6],
        [1.5, -40.0, -1.0, -2.0, 3.0, -1.0, 0.7],
    );
    for agg in [
        Aggregation::Sum,
        Aggregation::Joint,
        Aggregation::Correlation(vec![1.0, 0.3, 0.3, 1.0]),
        span(),
    ] {
        let e = engine(agg);
        let mut sc = e.scratch();
        for model in [Model::Standard, Model::Cross, Model::Portfolio] {
            let prep = e.prepare(&prices(), model == Model::Portfolio);
            let mut base = e.sums();
            for (&i, &q) in ins.iter().zip(&qty) {
                e.move_position(&prep, model, &mut base, i as usize, 0.0, q);
            }
            for margined in [false, true] {
                if margined {
                    e.sums_margin(model, &mut base, &mut sc);
                }
                for (&i, &q) in ins.iter().zip(&qty) {
                    for to in [0.0, 0.5 * q, -q, 3.0 * q] {
                        let got = e.moved_margin(&prep, model, &base, i as usize, q, to, &mut sc);
                        let mut copy = base.clone();
                        e.move_position(&prep, model, &mut copy, i as usize, q, to);
                        let want = e.sums_margin(model, &mut copy, &mut sc);
                        // Bit-equal but for the roll add-on, which a margined base
                        // updates in place (a few ulp).
                        let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * b.abs();
                        assert!(
                            close(got.0, want.0) && close(got.1, want.1),
                            "{model:?} row {i} to {to} margined {margined}: {got:?} {want:?}"
                        );
                        if !margined || model != Model::Portfolio {
                            assert_eq!(got.1.to_bits(), want.1.to_bits());
                        }
                        assert!(want.1 > 0.0);
                    }
                }
            }
        }
    }
}

/// SPAN with calendar charges on both underlyings and one inter-commodity tier.
fn span() -> Aggregation {
    Aggregation::Span(SpanRules::new(&[0.02, 0.01], &[0, 1], &[1.0, -1.0], &[0.6], 2).unwrap())
}

#[test]
fn sums_margin_matches_evaluate_under_every_aggregation() {
    let books: [(&[i64], &[f64]); 3] = [
        (
            &[0, 1, 2, 3, 4, 5, 6],
            &[1.5, -40.0, -1.0, -2.0, 3.0, -1.0, 0.7],
        ),
        (&[0, 2, 6], &[1.0, -1.0, -0.05]),
        (&[3, 4, 5], &[-1.0, -2.0, -3.0]),
    ];
    for agg in [
        Aggregation::Sum,
        Aggregation::Joint,
        Aggregation::Correlation(vec![1.0, -0.4, -0.4, 1.0]),
        span(),
    ] {
        let e = engine(agg.clone());
        let mut sc = e.scratch();
        let prep = e.prepare(&prices(), true);
        for (ins, qty) in books {
            let m = e.evaluate::<true>(
                &prep,
                &coll(),
                ins,
                qty,
                &[0.0, 0.0],
                Model::Portfolio,
                &mut sc,
            );
            let mut s = e.sums();
            for (&i, &q) in ins.iter().zip(qty) {
                e.move_position(&prep, Model::Portfolio, &mut s, i as usize, 0.0, q);
            }
            let (im, mm) = e.sums_margin(Model::Portfolio, &mut s, &mut sc);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            assert!(
                close(im, m.initial_margin) && close(mm, m.maintenance_margin),
                "{agg:?}: {im} {mm} vs {m:?}"
            );
            let parts = m.scenario_loss + m.roll_addon + m.short_option_addon;
            assert!(close(m.initial_margin, parts), "{agg:?}");
        }
    }
}

/// One underlying at 100: a linear perp (0), an inverse perp of 10 USD face (1), moves
/// -10% and +10% (vol unchanged), no add-ons; USD collateral (0) and a coin asset (1).
fn settlement_engine(options: Options, dampener: &[f64]) -> Engine {
    let ins = Instruments::new(
        &[1, 1],
        &[0, 0],
        &[0.0; 2],
        &[0.0; 2],
        &[1.0, 10.0],
        &[0, 1],
        1,
    )
    .unwrap();
    let table = ScenarioTable::new(
        &[-0.1, 0.1],
        &[0.0, 0.0],
        &[1.0, 1.0],
        2,
        1,
        0.5,
        0.25,
        0.3,
        0.13,
        0.5,
    )
    .unwrap()
    .with_extended(&[-0.1, 0.1], dampener)
    .unwrap();
    let params = Params {
        annual_move_risk: 0.0,
        min_annual_move: 0.0,
        short_option_min: 0.0,
        ..params()
    };
    Engine::with_options(ins, table, params, Aggregation::Sum, options).unwrap()
}

fn scenario_loss(e: &Engine, ins: &[i64], qty: &[f64], bal: [f64; 2]) -> f64 {
    let offsets = [0, ins.len() as i64];
    let book = Book {
        offsets: &offsets,
        instrument: ins,
        quantity: qty,
        balances: &bal,
        n_assets: 2,
    };
    let px = Prices {
        spot: &[100.0],
        vol: &[0.0, 0.0],
        forward: None,
        rate: 0.0,
    };
    let coll = Collateral {
        price: &[1.0, 100.0],
        haircut: &[0.0, 0.1],
    };
    e.compute(&px, &coll, &book, Model::Portfolio)
        .unwrap()
        .fields[5][0]
}

#[test]
fn coin_pnl_under_cross_and_segregated_settlement() {
    let cross = settlement_engine(Options::default(), &[0.0, 0.0]);
    let seg = settlement_engine(
        Options {
            settlement: SettlementMode::Segregated,
            asset_underlying: vec![],
        },
        &[0.0, 0.0],
    );
    // Short 10 contracts (100 USD face): at +10% the coin loss 100 / 100 x 0.1 / 1.1 coins is
    // worth 110 USD a coin under cross (10 USD), 100 under segregated (9.0909).
    let short = scenario_loss(&cross, &[1], &[-10.0], [0.0, 0.0]);
    assert!((short - 10.0).abs() < 1e-12, "{short}");
    let short = scenario_loss(&seg, &[1], &[-10.0], [0.0, 0.0]);
    assert!((short - 100.0 * 0.1 / 1.1).abs() < 1e-12, "{short}");
    // Long 1 linear + short 10 inverse: one hedged USD portfolio vs two portfolios.
    let hedged = scenario_loss(&cross, &[0, 1], &[1.0, -10.0], [0.0, 0.0]);
    assert!(hedged.abs() < 1e-12, "{hedged}");
    let apart = scenario_loss(&seg, &[0, 1], &[1.0, -10.0], [0.0, 0.0]);
    assert!(
        (apart - (10.0 + 100.0 * 0.1 / 1.1)).abs() < 1e-12,
        "{apart}"
    );
}

#[test]
fn linked_collateral_moves_in_the_scenarios() {
    let linked = Options {
        settlement: SettlementMode::Cross,
        asset_underlying: vec![-1, 0],
    };
    let e = settlement_engine(linked, &[0.0, 0.0]);
    // Long 1 linear perp: 10 at -10%; 2 coins of collateral at a 10% haircut add
    // 2 x 100 x 0.9 x 0.1 = 18; a 2-coin loan hedges 2 x 100 x 1.1 x 0.1 = 22.
    assert!((scenario_loss(&e, &[0], &[1.0], [500.0, 0.0]) - 10.0).abs() < 1e-12);
    assert!((scenario_loss(&e, &[0], &[1.0], [0.0, 2.0]) - 28.0).abs() < 1e-12);
    assert!((scenario_loss(&e, &[0], &[1.0], [500.0, -2.0]) - 12.0).abs() < 1e-12);
    // Collateral alone carries its own scenario risk.
    assert!((scenario_loss(&e, &[], &[], [0.0, 2.0]) - 18.0).abs() < 1e-12);
    let bad = Options {
        settlement: SettlementMode::Cross,
        asset_underlying: vec![-1, 3],
    };
    let ins = Instruments::new(&[1], &[0], &[0.0], &[0.0], &[1.0], &[0], 1).unwrap();
    let table =
        ScenarioTable::new(&[0.1], &[0.0], &[1.0], 1, 1, 0.5, 0.25, 0.3, 0.13, 0.5).unwrap();
    let err = Engine::with_options(ins, table, params(), Aggregation::Sum, bad).unwrap_err();
    assert_eq!(err.kind, ErrorKind::IndexOutOfRange);
    assert_eq!(
        (err.field.as_str(), err.index),
        ("asset_underlying", Some(1))
    );
}

#[test]
fn dampener_lowers_each_portfolio_loss() {
    let e = settlement_engine(Options::default(), &[3.0, 0.0]);
    // Long 1 linear perp loses 10 at -10%, dampened by 3.
    assert!((scenario_loss(&e, &[0], &[1.0], [0.0, 0.0]) - 7.0).abs() < 1e-12);
    // The short loses 10 at +10%, not dampened.
    assert!((scenario_loss(&e, &[0], &[-1.0], [0.0, 0.0]) - 10.0).abs() < 1e-12);
    let bad = ScenarioTable::new(&[0.1], &[0.0], &[1.0], 1, 1, 0.5, 0.25, 0.3, 0.13, 0.5)
        .unwrap()
        .with_extended(&[0.1], &[-1.0])
        .unwrap_err();
    assert_eq!((bad.field.as_str(), bad.index), ("dampener", Some(0)));
}

#[test]
fn per_underlying_rules_are_validated_and_used() {
    use zkmargin_core::scenarios::{RollRule, VolRule};
    let t = ScenarioTable::new(
        &[0.1, 0.1],
        &[1.0, 1.0],
        &[1.0; 2],
        1,
        2,
        0.5,
        0.25,
        0.3,
        0.13,
        0.5,
    )
    .unwrap();
    let up = |vol_up: f64| VolRule {
        vol_up,
        vol_down: 0.25,
        power_short: 0.0,
        power_long: 0.0,
        min_vol_up: 0.0,
    };
    let err = t.clone().with_vol_rules(&[up(0.5), up(-0.1)]).unwrap_err();
    assert_eq!((err.field.as_str(), err.index), ("vol_up", Some(1)));
    let t = t.with_vol_rules(&[up(0.5), up(0.2)]).unwrap();
    assert!((t.shocked_vol(0, 0.4, 1.0, 0.5) - 0.6).abs() < 1e-15);
    assert!((t.shocked_vol(1, 0.4, 1.0, 0.5) - 0.48).abs() < 1e-15);
    let bad = RollRule {
        annual_move_risk: 0.1,
        min_annual_move: f64::NAN,
    };
    let err = t.with_roll_rules(&[bad, bad]).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.index),
        ("min_annual_move", Some(0))
    );
}

#[test]
fn gain_offsets_limit_joint_netting() {
    // Long the linear perp of underlying 0, short that of 1, each leg worth 100 (spots 100
    // and 2000, contract sizes 1 and 0.05): joint rows moving both -10% and +10%.
    let ins = Instruments::new(
        &[1, 1],
        &[0, 1],
        &[0.0; 2],
        &[0.0; 2],
        &[1.0, 0.05],
        &[0, 0],
        2,
    )
    .unwrap();
    let moves = [-0.1, -0.1, 0.1, 0.1];
    let params = Params {
        annual_move_risk: 0.0,
        min_annual_move: 0.0,
        short_option_min: 0.0,
        ..params()
    };
    let loss = |offset: [f64; 2], cap: [f64; 2]| {
        let table = ScenarioTable::new(
            &moves, &[0.0; 4], &[1.0; 4], 2, 2, 0.5, 0.25, 0.3, 0.13, 0.5,
        )
        .unwrap()
        .with_gain_offsets(&offset, &cap)
        .unwrap();
        let e = Engine::new(ins.clone(), table, params, Aggregation::Joint).unwrap();
        let book = Book {
            offsets: &[0, 2],
            instrument: &[0, 1],
            quantity: &[1.0, -1.0],
            balances: &[0.0, 0.0],
            n_assets: 2,
        };
        let px = Prices {
            spot: &SPOT,
            vol: &[0.0, 0.0],
            forward: None,
            rate: 0.0,
        };
        e.compute(&px, &coll(), &book, Model::Portfolio)
            .unwrap()
            .fields[5][0]
    };
    let inf = f64::INFINITY;
    assert!(loss([1.0, 1.0], [inf, inf]).abs() < 1e-12);
    assert!((loss([0.5, 0.5], [inf, inf]) - 5.0).abs() < 1e-12);
    assert!((loss([0.5, 0.5], [inf, 2.0]) - 9.0).abs() < 1e-12);
    let bad = ScenarioTable::new(
        &moves, &[0.0; 4], &[1.0; 4], 2, 2, 0.5, 0.25, 0.3, 0.13, 0.5,
    )
    .unwrap()
    .with_gain_offsets(&[0.5, 1.5], &[inf, inf])
    .unwrap_err();
    assert_eq!((bad.field.as_str(), bad.index), ("pnl_offset", Some(1)));
}

#[test]
fn segregated_extended_row_is_expressed_at_its_edge() {
    // One extended row: move -50% expressed at the edge -10% (weight 0.2), dampener 1 USD.
    // A long inverse perp of 100 USD face at S = F = 100 loses, in coins at today's index,
    // 0.2 x (1 - 0.5) / (1 - 0.1) x 100 x (1/50 - 1/100) x 100 = 100 x 0.1 / 0.9, the same
    // as at -10% itself; the coin portfolio's dampener is 1 / 0.9 USD.
    let ins = Instruments::new(&[1], &[0], &[0.0], &[0.0], &[100.0], &[1], 1).unwrap();
    let table = ScenarioTable::new(&[-0.5], &[0.0], &[0.2], 1, 1, 0.5, 0.25, 0.3, 0.13, 0.5)
        .unwrap()
        .with_extended(&[-0.1], &[1.0])
        .unwrap();
    let params = Params {
        annual_move_risk: 0.0,
        min_annual_move: 0.0,
        short_option_min: 0.0,
        ..params()
    };
    let options = Options {
        settlement: SettlementMode::Segregated,
        asset_underlying: vec![],
    };
    let e = Engine::with_options(ins, table, params, Aggregation::Sum, options).unwrap();
    let book = Book {
        offsets: &[0, 1],
        instrument: &[0],
        quantity: &[1.0],
        balances: &[0.0, 0.0],
        n_assets: 2,
    };
    let px = Prices {
        spot: &[100.0],
        vol: &[0.0],
        forward: None,
        rate: 0.0,
    };
    let loss = e
        .compute(&px, &coll(), &book, Model::Portfolio)
        .unwrap()
        .fields[5][0];
    let want = 100.0 * 0.1 / 0.9 - 1.0 / 0.9;
    assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
}

/// `engine`'s instruments on a table of `n_s` scenarios (vol shocks on every third row).
fn wide_engine(n_s: usize, aggregation: Aggregation) -> Engine {
    let base = engine(Aggregation::Sum);
    let moves: Vec<f64> = (0..2 * n_s)
        .map(|k| ((k * 37 % 29) as f64 - 14.0) / 100.0)
        .collect();
    let shocks: Vec<f64> = (0..2 * n_s)
        .map(|k| if k % 3 == 0 { 0.5 } else { 0.0 })
        .collect();
    let weights = vec![1.0; 2 * n_s];
    let table =
        ScenarioTable::new(&moves, &shocks, &weights, n_s, 2, 0.5, 0.25, 0.3, 0.13, 0.5).unwrap();
    Engine::new(base.instruments, table, params(), aggregation).unwrap()
}

#[test]
fn register_blocks_agree_across_instruction_sets_and_widths() {
    // Rows interleave the two underlyings (portfolio switches mid-account), repeat
    // instruments, and include empty accounts and long ones.
    let accounts: Vec<_> = (0..600)
        .map(|a| {
            let n = (a * 7) % 23;
            let ins: Vec<i64> = (0..n).map(|k| ((a + k * 5) % 7) as i64).collect();
            let q: Vec<f64> = (0..n)
                .map(|k| ((a * 13 + k * 29) % 31) as f64 / 4.0 - 3.9)
                .collect();
            (ins, q, [500.0 + a as f64, (a % 5) as f64 - 2.0])
        })
        .collect();
    let bits = |f: &[Vec<f64>]| f.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
    // 35 scenarios pad to one 40-wide block; 203 to four 48-wide blocks and a 16-wide one;
    // 1,000 to twenty 48-wide blocks, a 32-wide and an 8-wide one.
    for n_s in [35, 203, 1000] {
        for aggregation in [Aggregation::Sum, Aggregation::Joint, span()] {
            let e = wide_engine(n_s, aggregation);
            let want = run_on(Isa::Portable, &e, &accounts, Model::Portfolio);
            assert!(want.1.iter().any(|&w| w >= 0), "{n_s}: some account loses");
            for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
                let got = run_on(isa, &e, &accounts, Model::Portfolio);
                assert_eq!(bits(&want.0), bits(&got.0), "{isa:?} {n_s}");
                assert_eq!(want.1, got.1, "{isa:?} {n_s}");
            }
            // Each account alone through `evaluate` on a fresh scratch gives the same bits
            // as the whole-book pass, whose scratch carries over between accounts.
            let prep = e.prepare_with(&prices(), &coll(), true);
            for (a, (ins, q, bal)) in accounts.iter().enumerate() {
                let mut sc = e.scratch();
                let m = e.evaluate::<true>(&prep, &coll(), ins, q, bal, Model::Portfolio, &mut sc);
                let n_a = accounts.len();
                assert_eq!(m.equity.to_bits(), field(&want.0, n_a, 0, a).to_bits());
                assert_eq!(
                    m.maintenance_margin.to_bits(),
                    field(&want.0, n_a, 2, a).to_bits()
                );
                assert_eq!(m.worst_scenario, want.1[a], "{n_s} account {a}");
            }
        }
    }
}
