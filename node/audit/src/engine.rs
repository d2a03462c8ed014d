//! The audit pipeline: a fetch thread reads windows of blocks from the
//! source, a verify thread checks each window's signatures and roots on all
//! cores, and the calling thread walks the blocks in height order, checking
//! the links between them and re-executing every transaction. Each stage runs
//! ahead of the next by at most two windows (bounded channels), so memory
//! stays bounded and a slow source overlaps with verification.

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::{Duration, Instant};

use cairn_consensus::leader::{self, Signers};
use cairn_genesis::GenesisState;
use cairn_ledger::validate;
use cairn_ledger::{Block, BlockHeader, Committee, Hash, Height};

use super::rules;
use super::verify::{verify_window, Checked};
use super::{
    AuditError, AuditState, BlockSource, Discrepancy, FetchResult, Fetched, Summary, Trusted,
};

/// What to audit.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// Start from the state at this height (default: genesis).
    pub from: Option<Height>,
    /// Stop after this height (default: the source's tip).
    pub to: Option<Height>,
    /// Print progress to stderr about once a second.
    pub progress: bool,
}

/// Transactions a window aims for: enough to fill every core's batches.
const WINDOW_TXS: usize = 16_384;
/// Transaction bytes a window aims for, so that the windows in flight (at
/// most six: two per channel, one per stage) stay around 100 MiB.
const WINDOW_BYTES: usize = 16 << 20;
/// Most blocks in a window.
const WINDOW_BLOCKS: u64 = 256;
/// Blocks in the first window, before block sizes are known.
const FIRST_WINDOW: u64 = 8;

/// The previous block, as the sequential checks need it.
struct Prev {
    hash: Hash,
    header: BlockHeader,
}

type Window = (Vec<FetchResult>, bool);

/// Where the walk starts: the state and block it builds on, the first
/// height it fetches, and the last height only replayed (blocks
/// `first..=replay_to` get no signature or certificate checks; they are
/// tied to the fully checked block after them by their hash links).
struct Start {
    state: AuditState,
    prev: Prev,
    first: Height,
    replay_to: Height,
    /// Signers of the certificates carried by the blocks before `first`,
    /// nearest first.
    recent: VecDeque<Signers>,
}

/// Audits `source` against the `trusted` genesis.
pub fn run(
    source: &dyn BlockSource,
    trusted: &Trusted,
    opts: &AuditOptions,
) -> Result<Summary, AuditError> {
    let started = Instant::now();
    let tip = source.tip()?;
    let to = opts.to.unwrap_or(tip);
    let from = opts.from.unwrap_or(Height(0));
    if to > tip {
        return Err(AuditError::Unavailable(format!(
            "--to {to} is above the last committed height {tip}; pick --to {tip} or lower"
        )));
    }
    if from > to {
        return Err(AuditError::Unavailable(format!(
            "--from {from} is above --to {to}; --from must be at most --to"
        )));
    }
    check_genesis(source, &trusted.state)?;
    let Start {
        mut state,
        prev,
        first,
        replay_to,
        recent,
    } = start_state(source, trusted, from)?;
    let mut walk = Walk {
        state: &mut state,
        committee: &trusted.state.committee,
        recent,
        prev,
        next: first,
        from,
        to,
        txs: 0,
        started,
        last_report: started,
        progress: opts.progress,
    };
    std::thread::scope(|s| -> Result<(), AuditError> {
        let (fetched_tx, fetched_rx) = sync_channel::<Result<Window, AuditError>>(2);
        let (checked_tx, checked_rx) = sync_channel::<Result<CheckedWindow, AuditError>>(2);
        s.spawn(move || fetch_loop(source, first, replay_to, to, &fetched_tx));
        s.spawn(move || {
            for item in fetched_rx {
                // A source failure passes through to the walker, which reports it.
                let out =
                    item.map(|(window, signatures)| verify_window(window, trusted, signatures));
                if checked_tx.send(out).is_err() {
                    return;
                }
            }
        });
        walk.consume(source, checked_rx)
    })?;
    let txs = walk.txs;
    let tip_hash = walk.prev.hash;
    source.check_final(to, &state)?;
    let seconds = started.elapsed().as_secs_f64();
    let blocks = to.0 - from.0;
    Ok(Summary {
        ok: true,
        from_height: from.0,
        to_height: to.0,
        blocks,
        transactions: txs,
        accounts: state.account_count() as u64,
        tip_hash,
        state_root: state.root(),
        seconds,
        blocks_per_second: blocks as f64 / seconds.max(1e-9),
        transactions_per_second: txs as f64 / seconds.max(1e-9),
    })
}

/// A window after its stateless checks, in height order.
type CheckedWindow = Vec<Result<Checked, Discrepancy>>;

fn check_genesis(source: &dyn BlockSource, genesis: &GenesisState) -> Result<(), AuditError> {
    let want = genesis.block.hash();
    let got = source.fetch(Height(0), Height(0))?.into_iter().next();
    match got {
        Some(Ok(f)) if f.height == Height(0) && f.block.hash() == want => Ok(()),
        Some(Ok(f)) => Err(Discrepancy::new(
            Height(0),
            "genesis-hash",
            format!("{want} (from the genesis file)"),
            format!("{} (delivered as height {})", f.block.hash(), f.height),
        )
        .into()),
        Some(Err(d)) => Err(d.into()),
        None => Err(Discrepancy::new(Height(0), "genesis-hash", want, "no genesis block").into()),
    }
}

/// Where the walk starts. From genesis, or remotely (the source cannot give
/// the state at `--from H`): the genesis state, replaying `1..H-1` and
/// checking `H..` fully, so that the block at `H` is certified and its hash
/// pins every replayed block below it. Offline: the store's state at `H`,
/// and the block at `H`, fully checked, as the anchor of the hash chain.
fn start_state(
    source: &dyn BlockSource,
    trusted: &Trusted,
    from: Height,
) -> Result<Start, AuditError> {
    let genesis = &trusted.state;
    let from_genesis = |replay_to: Height| -> Result<Start, AuditError> {
        Ok(Start {
            state: AuditState::new(Height(0), &genesis.accounts)
                .map_err(AuditError::Unavailable)?,
            prev: Prev {
                hash: genesis.block.hash(),
                header: genesis.block.header.clone(),
            },
            first: Height(1),
            replay_to,
            recent: VecDeque::from([leader::signers(&genesis.block.header)]),
        })
    };
    if from == Height(0) {
        return from_genesis(Height(0));
    }
    let Some((accounts, stored_root)) = source.state_at(from)? else {
        return from_genesis(Height(from.0 - 1));
    };
    let state = AuditState::new(from, &accounts).map_err(AuditError::Unavailable)?;
    if state.root() != stored_root {
        return Err(Discrepancy::new(
            from,
            "from-state",
            format!("{stored_root} (the store's state root at --from)"),
            format!(
                "{} (the root of the accounts the store holds at --from)",
                state.root()
            ),
        )
        .into());
    }
    // The block at --from anchors the hash chain; it must itself be certified.
    let mut anchor = source.fetch(from, from)?;
    anchor.truncate(1);
    let checked = verify_window(anchor, trusted, true)
        .into_iter()
        .next()
        .ok_or_else(|| {
            AuditError::Unavailable(format!("the source returned no block at {from}"))
        })??;
    if checked.fetched.height != from {
        return Err(height_mismatch(from, &checked.fetched, "--from").into());
    }
    if let Some(d) = checked.failure {
        return Err(d.into());
    }
    let recent = ancestry_signers(source, &checked.fetched.block.header, from)?;
    Ok(Start {
        state,
        prev: Prev {
            hash: checked.hash,
            header: checked.fetched.block.header,
        },
        first: from.next(),
        replay_to: from,
        recent,
    })
}

/// The signers of the certificates (QC, TC) carried by the `--from` anchor and the blocks
/// just below it (leader election reads them, `cairn_consensus::leader`),
/// each block tied to the anchor by its hash.
fn ancestry_signers(
    source: &dyn BlockSource,
    anchor: &BlockHeader,
    from: Height,
) -> Result<VecDeque<Signers>, AuditError> {
    let mut recent = VecDeque::from([leader::signers(anchor)]);
    let low = Height(from.0.saturating_sub(leader::WINDOW as u64 - 1).max(1));
    if low >= from {
        return Ok(recent);
    }
    let below = source.fetch(low, Height(from.0 - 1))?;
    let mut want = anchor.parent_hash;
    for f in below.iter().rev() {
        let f = f.as_ref().map_err(|d| AuditError::from(d.clone()))?;
        if f.block.hash() != want {
            return Err(height_mismatch(
                f.height,
                f,
                "below --from, by the anchor's parent hashes",
            )
            .into());
        }
        recent.push_back(leader::signers(&f.block.header));
        want = f.block.header.parent_hash;
    }
    Ok(recent)
}

/// Fetches windows `first..=to`; blocks up to `replay_to` and above it
/// never share a window (the verify stage checks a window one way).
fn fetch_loop(
    source: &dyn BlockSource,
    first: Height,
    replay_to: Height,
    to: Height,
    out: &std::sync::mpsc::SyncSender<Result<Window, AuditError>>,
) {
    let mut next = first.0;
    let mut per_window = FIRST_WINDOW;
    while next <= to.0 {
        let limit = if next <= replay_to.0 {
            replay_to.0
        } else {
            to.0
        };
        let last = limit.min(next + per_window - 1);
        let mut window = match source.fetch(Height(next), Height(last)) {
            Ok(w) if !w.is_empty() => w,
            Ok(_) => {
                let _ = out.send(Err(AuditError::Unavailable(format!(
                    "the source returned no block at height {next}"
                ))));
                return;
            }
            Err(e) => {
                let _ = out.send(Err(e));
                return;
            }
        };
        // No source is trusted on length: blocks beyond `last` would be
        // checked the wrong way (or not at all) and are dropped.
        window.truncate((last - next + 1) as usize);
        per_window = window_size(&window);
        let signatures = next > replay_to.0;
        next += window.len() as u64;
        if out.send(Ok((window, signatures))).is_err() {
            return;
        }
    }
}

/// The next window's length, from the sizes of the blocks just fetched.
fn window_size(window: &[FetchResult]) -> u64 {
    let (txs, bytes) = window.iter().flatten().fold((0, 0), |(n, b), f| {
        let tx_bytes: usize = f.block.txs.iter().map(|t| t.encoded_len()).sum();
        (n + f.block.txs.len(), b + tx_bytes + 512)
    });
    let blocks = window.len().max(1);
    let by_txs = WINDOW_TXS / (txs / blocks).max(1);
    let by_bytes = WINDOW_BYTES / (bytes / blocks).max(1);
    (by_txs.min(by_bytes) as u64).clamp(1, WINDOW_BLOCKS)
}

struct Walk<'a> {
    state: &'a mut AuditState,
    committee: &'a Committee,
    /// Signers of the certificates carried by the blocks before `next`,
    /// nearest first.
    recent: VecDeque<Signers>,
    prev: Prev,
    /// The height of the next block, counted by the walk itself: never
    /// taken from a source or from block bytes.
    next: Height,
    from: Height,
    to: Height,
    txs: u64,
    started: Instant,
    last_report: Instant,
    progress: bool,
}

impl Walk<'_> {
    /// Walks until the block at `to` is checked; anything a source sends
    /// beyond it is ignored.
    fn consume(
        &mut self,
        source: &dyn BlockSource,
        rx: Receiver<Result<CheckedWindow, AuditError>>,
    ) -> Result<(), AuditError> {
        let mut windows = rx.into_iter();
        while self.next <= self.to {
            let Some(window) = windows.next() else {
                return Err(AuditError::Unavailable(format!(
                    "the source stopped before height {}",
                    self.next
                )));
            };
            for item in window? {
                if self.next > self.to {
                    break;
                }
                self.block(source, item?)?;
            }
        }
        Ok(())
    }

    fn block(&mut self, source: &dyn BlockSource, c: Checked) -> Result<(), AuditError> {
        let height = self.next;
        let parent = self.prev.header.height;
        if c.fetched.height != height
            || c.fetched.block.header.height != height
            || parent.0.checked_add(1) != Some(height.0)
        {
            return Err(height_mismatch(height, &c.fetched, &format!("after {parent}")).into());
        }
        if let Some(d) = c.failure {
            return Err(d.into());
        }
        let h = &c.fetched.block.header;
        sequential_checks(height, &c.fetched.block, &self.prev, self.state)?;
        proposer_check(height, h, self.committee, &self.recent)?;
        self.recent.push_front(leader::signers(h));
        self.recent.truncate(leader::WINDOW);
        let (receipts, root) = self
            .state
            .execute(height, &c.fetched.block.txs)
            .map_err(AuditError::Unavailable)?;
        source.check_block(&c.fetched, &receipts, root)?;
        if height > self.from {
            self.txs += c.fetched.block.txs.len() as u64;
        }
        self.prev = Prev {
            hash: c.hash,
            header: c.fetched.block.header,
        };
        self.next = height.next();
        self.report(height);
        Ok(())
    }

    fn report(&mut self, height: Height) {
        let now = Instant::now();
        if !self.progress || now - self.last_report < Duration::from_secs(1) {
            return;
        }
        self.last_report = now;
        let secs = (now - self.started).as_secs_f64();
        let done = height.0.saturating_sub(self.from.0);
        eprintln!(
            "audit: height {height}/{}  {:.0} blocks/s  {:.0} tx/s",
            self.to,
            done as f64 / secs,
            self.txs as f64 / secs
        );
    }
}

/// Check `height`: the block delivered where the walk needed block `want`
/// (`why`: the block it must follow) is another height's, by the source's
/// word or by its own header.
fn height_mismatch(want: Height, f: &Fetched, why: &str) -> Discrepancy {
    Discrepancy::new(
        want,
        "height",
        format!("block {want} ({why})"),
        format!(
            "a block delivered as height {} whose header says height {}",
            f.height, f.block.header.height
        ),
    )
}

/// The proposer is the leader of the block's round after its parent: the
/// consensus rule (`cairn_consensus::leader`), from the QCs and TCs in the
/// chain.
fn proposer_check(
    height: Height,
    h: &BlockHeader,
    committee: &Committee,
    recent: &VecDeque<Signers>,
) -> Result<(), Discrepancy> {
    let vals = &committee.validators;
    let leader = leader::proposer(vals, h.round, h.justify.round, recent);
    let address = vals.validators()[leader as usize].address;
    if h.proposer != address {
        return Err(Discrepancy::new(
            height,
            "proposer",
            format!("{address} (the leader of round {})", h.round),
            h.proposer.to_string(),
        ));
    }
    Ok(())
}

/// The rules that relate a block to its parent and to the recomputed
/// state (the ledger's, shared with the node and block sync).
fn sequential_checks(
    height: Height,
    block: &Block,
    prev: &Prev,
    state: &AuditState,
) -> Result<(), Discrepancy> {
    let h = &block.header;
    let rule = |verdict: Result<(), validate::BlockError>| -> Result<(), Discrepancy> {
        verdict.map_err(|e| rules::discrepancy(height, block, &e))
    };
    rule(validate::check_extends(block, &prev.header, prev.hash))?;
    if let Some(root) = state.root_at(h.state_height) {
        rule(validate::check_state_root(block, root))?;
    }
    Ok(())
}
