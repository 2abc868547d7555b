//! `consent queue`: what the wallet's send queue holds (entries signed and sent later, each feed
//! at its own moment, so that your feeds cannot be linked by when they reach the network), and
//! sending them now.

use clap::Args;
use consent_client::privacy::queue;
use consent_client::time;
use consent_proto::vocab::Role;
use serde_json::json;

use crate::ctx::{self, Global, emit};
use crate::send::{self, Nodes, Pick};

/// `consent queue`.
#[derive(Args, Debug)]
pub struct QueueArgs {
    /// Send every queued entry now, whatever its moment. A grant is then in force at once, but
    /// entries sent together can be linked by their arrival.
    #[arg(long)]
    pub send_now: bool,
}

pub async fn queue(a: QueueArgs, g: &Global) -> anyhow::Result<()> {
    let ks = g.open(Role::Citizen)?;
    if queue::path_for(ks.path()).exists() {
        let mut nodes = Nodes::new(&g.node, g.tls()?, None);
        let pick = if a.send_now {
            Pick::All
        } else {
            Pick::Due(time::now_ms())
        };
        let flushed = send::send_queued(&ks, &mut nodes, pick).await?;
        send::report(&flushed, &[]);
    }
    let left = send::queued(&ks)?;
    if left.is_empty() {
        emit(
            g.json,
            "The send queue is empty: everything this wallet signed has been sent.",
            json!({"queued": 0}),
        );
        return Ok(());
    }
    for (e, item) in &left {
        let value = json!({
            "entry": e.id.to_string(),
            "what": item.what,
            "collector": item.collector,
            "subject": e.feed.typed(Role::Citizen).to_string(),
            "due": time::format(item.due_ms),
            "node": item.node,
        });
        emit(
            g.json,
            format!(
                "queued, sent {}: {} {} (collector {}, via {}){}",
                send::when(item.due_ms),
                item.what,
                e.id,
                item.collector,
                item.node,
                if item.what == "grant" {
                    " — not in force until it is sent"
                } else {
                    ""
                }
            ),
            value,
        );
    }
    if !g.json {
        ctx::out(
            "Each is sent by the first consent command that runs after its moment (run `consent \
             queue` from a timer, e.g. every 5 minutes, to send them close to their moments); \
             `consent queue --send-now` sends them all now.",
        );
    }
    Ok(())
}
