//! A priced market state over a book: the universe is valued once (risk arrays and
//! instrument values cached), every account margined once, and then a hypothetical trade
//! is margined from the cache in microseconds, an applied trade re-margins only its
//! account, and a price tick reprices once and re-margins all (docs/margin-model.md §7.1).

use rayon::prelude::*;

use crate::error::{ErrorKind, InputError, Result, same_len};
use crate::margin::{AccountMargin, Engine, Model, Prepared, Scratch};
use crate::model::{Book, Collateral, Prices};
use crate::surface::Curves;

/// One hypothetical position change: `quantity` contracts of `instrument` added (negative
/// sells), and nothing else; cash moves go in the balance change of the call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    pub instrument: i64,
    pub quantity: f64,
}

/// An account before and after a hypothetical or applied change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhatIf {
    pub before: AccountMargin,
    pub after: AccountMargin,
}

/// One account's rows, sorted by instrument with no zero quantity when built from the
/// `Accounts` builders (a book given in another order keeps it).
#[derive(Debug, Clone, Default)]
struct Rows {
    instrument: Vec<i64>,
    quantity: Vec<f64>,
}

/// The cached state. Owns its copy of the book, collateral prices and the engine, so it
/// outlives the caller's arrays.
#[derive(Debug, Clone)]
pub struct MarketState {
    engine: Engine,
    model: Model,
    prep: Prepared,
    asset_price: Vec<f64>,
    haircut: Vec<f64>,
    rows: Vec<Rows>,
    /// `A x J` row-major.
    balances: Vec<f64>,
    n_assets: usize,
    margins: Vec<AccountMargin>,
    /// `A x 4U`: each account's net Greeks as the scratch lays them out (underlying-major).
    greeks: Vec<f64>,
    scratch: Scratch,
    /// The trial account's rows (`what_if`), reused so a call does not allocate.
    trial: Rows,
    trial_balances: Vec<f64>,
}

impl MarketState {
    /// Validates everything, prices the universe once (off `curves` where given, as
    /// `Engine::compute_with`) and margins every account.
    pub fn new(
        engine: &Engine,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        book: &Book<'_>,
        model: Model,
        curves: Option<&Curves>,
    ) -> Result<Self> {
        let mut vols = Vec::new();
        let px = &engine.with_curves(px, curves, &mut vols)?;
        engine.validate_book(px, coll, book)?;
        let rows = (0..book.n_accounts())
            .map(|a| {
                let r = book.rows(a);
                Rows {
                    instrument: book.instrument[r.clone()].to_vec(),
                    quantity: book.quantity[r].to_vec(),
                }
            })
            .collect();
        let mut state = Self {
            engine: engine.clone(),
            model,
            prep: engine.prepare_market(px, coll, model == Model::Portfolio, curves),
            asset_price: coll.price.to_vec(),
            haircut: coll.haircut.to_vec(),
            rows,
            balances: book.balances.to_vec(),
            n_assets: book.n_assets,
            margins: Vec::new(),
            greeks: Vec::new(),
            scratch: engine.scratch(),
            trial: Rows::default(),
            trial_balances: vec![0.0; book.n_assets],
        };
        state.remargin_all();
        Ok(state)
    }

    pub fn n_accounts(&self) -> usize {
        self.rows.len()
    }

    pub fn n_assets(&self) -> usize {
        self.n_assets
    }

    pub fn n_underlyings(&self) -> usize {
        self.engine.n_underlyings()
    }

    pub fn model(&self) -> Model {
        self.model
    }

    pub fn margins(&self) -> &[AccountMargin] {
        &self.margins
    }

    /// `A x 4U` net Greeks, account-major, `4 u + g` within an account.
    pub fn greeks(&self) -> &[f64] {
        &self.greeks
    }

    /// The current book in CSR form: (offsets, instrument, quantity, balances).
    pub fn book(&self) -> (Vec<i64>, Vec<i64>, Vec<f64>, Vec<f64>) {
        let mut offsets = vec![0i64];
        let (mut ins, mut qty) = (Vec::new(), Vec::new());
        for r in &self.rows {
            ins.extend_from_slice(&r.instrument);
            qty.extend_from_slice(&r.quantity);
            offsets.push(ins.len() as i64);
        }
        (offsets, ins, qty, self.balances.clone())
    }

    /// Reprices the universe for `px` and `curves` (once) and re-margins every account.
    pub fn reprice(&mut self, px: &Prices<'_>, curves: Option<&Curves>) -> Result<()> {
        let e = &self.engine;
        let mut vols = Vec::new();
        let px = &e.with_curves(px, curves, &mut vols)?;
        e.validate_prices(px)?;
        let coll = Collateral {
            price: &self.asset_price,
            haircut: &self.haircut,
        };
        self.prep = e.prepare_market(px, &coll, self.model == Model::Portfolio, curves);
        self.remargin_all();
        Ok(())
    }

    fn remargin_all(&mut self) {
        let n_g = 4 * self.engine.n_underlyings();
        let coll = Collateral {
            price: &self.asset_price,
            haircut: &self.haircut,
        };
        let (engine, prep, model, n_j) = (&self.engine, &self.prep, self.model, self.n_assets);
        let mut greeks = vec![0.0; self.rows.len() * n_g];
        self.margins = self
            .rows
            .par_iter()
            .zip(self.balances.par_chunks(n_j.max(1)))
            .zip(greeks.par_chunks_mut(n_g.max(1)))
            .map_init(
                || engine.scratch(),
                |sc, ((r, bal), g)| {
                    let bal = &bal[..n_j];
                    let m = engine.evaluate::<true>(
                        prep,
                        &coll,
                        &r.instrument,
                        &r.quantity,
                        bal,
                        model,
                        sc,
                    );
                    g.copy_from_slice(&sc.greeks);
                    m
                },
            )
            .collect();
        self.greeks = greeks;
    }

    fn check(&self, account: usize, trades: &[Trade], balance_change: &[f64]) -> Result<()> {
        if account >= self.rows.len() {
            return Err(InputError::whole(
                ErrorKind::IndexOutOfRange,
                "account",
                format!("{account} is outside 0..{}", self.rows.len()),
            ));
        }
        let n_i = self.engine.instruments.len();
        for (t, trade) in trades.iter().enumerate() {
            if trade.instrument < 0 || trade.instrument as u64 >= n_i as u64 {
                return Err(InputError::at(
                    ErrorKind::IndexOutOfRange,
                    "trades.instrument",
                    t,
                    format!("{} is outside 0..{n_i}", trade.instrument),
                ));
            }
            if !trade.quantity.is_finite() {
                return Err(InputError::at(
                    ErrorKind::NonFinite,
                    "trades.quantity",
                    t,
                    "must be finite",
                ));
            }
        }
        same_len(
            "balance_change",
            balance_change.len(),
            self.n_assets,
            "number of collateral assets",
        )?;
        crate::error::finite("balance_change", balance_change)
    }

    /// The margin of `account` with `trades` and `balance_change` (per asset, added to its
    /// balances) applied, the state unchanged. The trial book is the account's rows with
    /// each trade added to the row of its instrument, or inserted before the first row of
    /// a larger instrument, and rows that reach exactly zero dropped: what
    /// `Accounts.from_triples` builds from the changed positions, so a full recompute of
    /// that book sums the same rows in the same order.
    pub fn what_if(
        &mut self,
        account: usize,
        trades: &[Trade],
        balance_change: &[f64],
    ) -> Result<WhatIf> {
        self.check(account, trades, balance_change)?;
        let Self {
            rows,
            trial,
            trial_balances,
            ..
        } = self;
        let base = &rows[account];
        trial.instrument.clone_from(&base.instrument);
        trial.quantity.clone_from(&base.quantity);
        for trade in trades {
            match trial.instrument.iter().position(|&i| i == trade.instrument) {
                Some(r) => trial.quantity[r] += trade.quantity,
                None => {
                    let r = trial
                        .instrument
                        .iter()
                        .position(|&i| i > trade.instrument)
                        .unwrap_or(trial.instrument.len());
                    trial.instrument.insert(r, trade.instrument);
                    trial.quantity.insert(r, trade.quantity);
                }
            }
        }
        let mut r = 0;
        while r < trial.quantity.len() {
            if trial.quantity[r] == 0.0 {
                trial.instrument.remove(r);
                trial.quantity.remove(r);
            } else {
                r += 1;
            }
        }
        let n_j = self.n_assets;
        for ((t, b), d) in trial_balances
            .iter_mut()
            .zip(&self.balances[account * n_j..(account + 1) * n_j])
            .zip(balance_change)
        {
            *t = b + d;
        }
        let coll = Collateral {
            price: &self.asset_price,
            haircut: &self.haircut,
        };
        let after = self.engine.evaluate::<true>(
            &self.prep,
            &coll,
            &self.trial.instrument,
            &self.trial.quantity,
            &self.trial_balances,
            self.model,
            &mut self.scratch,
        );
        Ok(WhatIf {
            before: self.margins[account],
            after,
        })
    }

    /// [`Self::what_if`], then the change kept: only `account`'s rows, balances, margin
    /// and Greeks are updated.
    pub fn apply(
        &mut self,
        account: usize,
        trades: &[Trade],
        balance_change: &[f64],
    ) -> Result<WhatIf> {
        let outcome = self.what_if(account, trades, balance_change)?;
        let n_j = self.n_assets;
        let n_g = 4 * self.engine.n_underlyings();
        std::mem::swap(&mut self.rows[account], &mut self.trial);
        self.balances[account * n_j..(account + 1) * n_j].copy_from_slice(&self.trial_balances);
        self.greeks[account * n_g..(account + 1) * n_g].copy_from_slice(&self.scratch.greeks);
        self.margins[account] = outcome.after;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::margin::Aggregation;
    use crate::model::Instruments;
    use crate::scenarios::ScenarioTable;

    /// One underlying: a perpetual, a call and a put; four scenarios.
    fn engine() -> Engine {
        let ins = Instruments::new(
            &[1, 3, 4],
            &[0, 0, 0],
            &[0.0, 105.0, 95.0],
            &[0.0, 0.2, 0.4],
            &[1.0; 3],
            &[0, 0, 1],
            1,
        )
        .unwrap();
        let table = ScenarioTable::new(
            &[-0.15, -0.05, 0.05, 0.15],
            &[1.0, 0.0, 0.0, -1.0],
            &[1.0; 4],
            4,
            1,
            0.4,
            0.2,
            0.3,
            0.13,
            0.3,
        )
        .unwrap();
        Engine::new(ins, table, crate::margin::test_params(), Aggregation::Sum).unwrap()
    }

    /// The one underlying at 100 with the instruments' vols, at `rate`.
    fn prices(rate: f64) -> Prices<'static> {
        Prices {
            spot: &[100.0],
            vol: &[0.0, 0.6, 0.7],
            forward: None,
            rate,
        }
    }

    /// One collateral asset at 1 without haircut.
    const COLLATERAL: Collateral<'static> = Collateral {
        price: &[1.0],
        haircut: &[0.0],
    };

    fn full(e: &Engine, ins: &[i64], qty: &[f64], bal: &[f64], model: Model) -> AccountMargin {
        let (px, coll) = (prices(0.01), COLLATERAL);
        let prep = e.prepare(&px, true);
        e.evaluate::<true>(&prep, &coll, ins, qty, bal, model, &mut e.scratch())
    }

    #[test]
    fn what_if_equals_margining_the_changed_book_and_apply_keeps_it() {
        let e = engine();
        let (px, coll) = (prices(0.01), COLLATERAL);
        let book = Book {
            offsets: &[0, 1, 3],
            instrument: &[1, 0, 2],
            quantity: &[-2.0, 1.0, -1.0],
            balances: &[500.0, 800.0],
            n_assets: 1,
        };
        for model in [Model::Standard, Model::Cross, Model::Portfolio] {
            let mut st = MarketState::new(&e, &px, &coll, &book, model, None).unwrap();
            assert_eq!(
                st.margins()[1],
                full(&e, &[0, 2], &[1.0, -1.0], &[800.0], model)
            );
            // Adds to the put, inserts a call before it, closes the perp, pays 3 of cash.
            let trades = [
                Trade {
                    instrument: 2,
                    quantity: 0.5,
                },
                Trade {
                    instrument: 1,
                    quantity: 4.0,
                },
                Trade {
                    instrument: 0,
                    quantity: -1.0,
                },
            ];
            let w = st.what_if(1, &trades, &[-3.0]).unwrap();
            let want = full(&e, &[1, 2], &[4.0, -0.5], &[797.0], model);
            assert_eq!(w.after, want);
            assert_eq!(w.before, st.margins()[1]);
            assert_eq!(st.book().1, vec![1, 0, 2]); // what_if changed nothing
            st.apply(1, &trades, &[-3.0]).unwrap();
            assert_eq!(st.margins()[1], want);
            assert_eq!(
                st.book(),
                (
                    vec![0, 1, 3],
                    vec![1, 1, 2],
                    vec![-2.0, 4.0, -0.5],
                    vec![500.0, 797.0]
                )
            );
        }
    }

    #[test]
    fn bad_trades_name_their_field_and_row() {
        let e = engine();
        let (px, coll) = (prices(0.0), COLLATERAL);
        let book = Book {
            offsets: &[0, 0],
            instrument: &[],
            quantity: &[],
            balances: &[1.0],
            n_assets: 1,
        };
        let mut st = MarketState::new(&e, &px, &coll, &book, Model::Portfolio, None).unwrap();
        let t = |instrument, quantity| Trade {
            instrument,
            quantity,
        };
        let err = st.what_if(0, &[t(0, 1.0), t(3, 1.0)], &[0.0]).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.index),
            ("trades.instrument", Some(1))
        );
        let err = st.what_if(0, &[t(0, f64::NAN)], &[0.0]).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.index),
            ("trades.quantity", Some(0))
        );
        let err = st.what_if(1, &[], &[0.0]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::IndexOutOfRange);
        let err = st.what_if(0, &[], &[]).unwrap_err();
        assert_eq!(err.field, "balance_change");
    }
}
