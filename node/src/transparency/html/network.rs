//! The network page: the nodes that keep the ledger, their checkpoints and cosignatures, and
//! the proofs of misbehaviour (forks, equivocations).

use maud::{Markup, html};

use super::{Frame, Page, layout};
use crate::transparency::network::NetworkView;

/// The network page.
pub(crate) fn network(frame: &Frame, n: &NetworkView) -> Markup {
    let body = html! {
        h1 { "The network that keeps the ledger" }
        p {
            "Several independent organisations each run a node. Every node keeps the whole log "
            "and signs a checkpoint of it; the others check and cosign it, so no single operator "
            "can rewrite history unnoticed."
        }
        dl {
            dt { "Network" } dd { code { (n.network_id) } }
            dt { "Genesis digest" } dd { span.id { (n.genesis_digest) } }
            dt { "Peers connected to this node" } dd { (n.peers_connected) }
        }
        h2 { "Proof of misbehaviour" }
        @if n.forks.is_empty() {
            p.ok { "None: no node has been caught showing two different histories." }
        }
        @if n.equivocations.is_empty() {
            p.ok { "No collector or registrar has been caught signing two different histories." }
        }
        @for e in &n.equivocations {
            section.card aria-label=(format!("Equivocation by {}", e.feed)) {
                h3.bad {
                    (e.name.as_deref().unwrap_or("An organisation"))
                    " signed two different statements at position " (e.seq)
                }
                p { "Its statements are frozen: checks that depend on it answer deny." }
                dl {
                    dt { "Feed" } dd.id { (e.feed) }
                    dt { "Statement held" } dd.id { (e.held) }
                    dt { "Conflicting statement" } dd.id { (e.conflicting) }
                }
            }
        }
        p { "Citizens' feeds frozen for signing two histories: " (n.frozen_citizen_feeds) }
        @for f in &n.forks {
            section.card aria-label=(format!("Fork by {}", f.node)) {
                h3.bad { (f.operator.as_deref().unwrap_or("A node")) " signed two different histories" }
                p { "Node " span.id { (f.node) } }
                pre { (f.first_note) }
                pre { (f.second_note) }
            }
        }
        h2 { "Nodes" }
        @for node in &n.nodes {
            section.card aria-label=(format!("Node {}", node.id)) {
                h3 {
                    (node.operator.as_deref().unwrap_or("Operator not named"))
                    @if node.serving_this_page { " (this node)" }
                }
                p.id { (node.id) }
                @match &node.checkpoint {
                    Some(c) => dl {
                        dt { "Latest checkpoint" } dd { (c.size) " entries" }
                        dt { "Signed" } dd { time datetime=(c.signed_at) { (c.signed_at) } }
                        dt { "Root" } dd { span.id { (c.root) } }
                        @if node.serving_this_page {
                            dt { "Cosigned by" } dd {
                                @if c.cosigned_by.is_empty() { "no other node yet" }
                                @else { ul.terms { @for w in &c.cosigned_by { li.id { (w) } } } }
                            }
                        } @else {
                            dt { "Checked" } dd { "cosigned by this node" }
                        }
                    },
                    None => p.note { "No checkpoint seen from it yet." },
                }
            }
        }
    };
    layout(frame, Page::Network, "The network", body)
}
