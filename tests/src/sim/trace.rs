//! One-line descriptions of inputs and outputs for `SIM_TRACE=1`.

use cairn_consensus::{Input, Message, Output};

pub(super) fn brief_input(i: &Input) -> String {
    match i {
        Input::Message(m) => format!("msg {}", brief_msg(m)),
        Input::Timer { round } => format!("timer r{round}"),
        Input::Payload(b) => format!("payload r{}", b.header.round),
        Input::BlockValidated { valid, .. } => format!("validated {valid}"),
        Input::FetchedBlock(b) => format!("fetched h{}", b.header.height),
        Input::TxsAvailable(t) => format!("txs {t}"),
        Input::Start => "start".into(),
    }
}

pub(super) fn brief_msg(m: &Message) -> String {
    match m {
        Message::Proposal(p) => format!(
            "proposal r{} h{} qc{} tc{:?}",
            p.block.header.round,
            p.block.header.height,
            p.block.header.justify.round,
            p.block.header.timeout_cert.as_ref().map(|t| t.round.0)
        ),
        Message::Vote(v) => format!("vote r{} by {}", v.round, v.signer),
        Message::Timeout(t) => format!(
            "timeout r{} by {} hqc{}",
            t.round, t.signer, t.high_qc.round
        ),
        Message::TimeoutCertificate(tc) => format!("tc r{}", tc.round),
    }
}

pub(super) fn brief_output(o: &Output) -> String {
    match o {
        Output::Persist(_) => "persist".into(),
        Output::PersistBlock(_) => "persist block".into(),
        Output::Broadcast(m) => format!("bcast {}", brief_msg(m)),
        Output::SendVote { to, vote } => format!("vote r{} to {to}", vote.round),
        Output::Send { to, message } => format!("send {} to {to}", brief_msg(message)),
        Output::ScheduleTimeout { round, after_ms } => format!("timer r{round} {after_ms}ms"),
        Output::RequestPayload(r) => format!("request r{}", r.round),
        Output::ValidateBlock(_) => "validate".into(),
        Output::Commit { block, .. } => format!("commit h{}", block.header.height),
        Output::FetchBlock { from, .. } => format!("fetch from {from}"),
        Output::Equivocation(_) => "equivocation".into(),
        Output::Rejected(e) => format!("rejected ({e})"),
    }
}
