// The NetworkBehaviour derive generates an event enum without docs.
#![allow(missing_docs)]
//! The combined libp2p behaviour: gossipsub (push), request-response (pull), identify
//! (membership check: peers of another network are dropped).

use std::time::Duration;

use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, gossipsub, identify, identity};

use super::protocol::{self, SyncRequest, SyncResponse};

/// Everything a node speaks to its peers.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Push of new entries.
    pub gossipsub: gossipsub::Behaviour,
    /// Pull of missing entries.
    pub sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
    /// Peer identity and network membership.
    pub identify: identify::Behaviour,
}

/// Why the behaviour could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the p2p behaviour: {0}")]
pub struct BuildError(pub String);

impl Behaviour {
    /// Builds the behaviour for the network with `genesis_digest`.
    pub fn new(key: &identity::Keypair, genesis_digest: &str) -> Result<Self, BuildError> {
        let config = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(500))
            .validation_mode(gossipsub::ValidationMode::Strict)
            // Nothing is forwarded before the write path has validated it.
            .validate_messages()
            // Content-addressed: the same entry from two nodes is one message.
            .message_id_fn(|m: &gossipsub::Message| {
                gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes().to_vec())
            })
            .max_transmit_size(protocol::MAX_GOSSIP_BYTES)
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        let gossipsub =
            gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)
                .map_err(|e| BuildError(e.to_string()))?;
        let name = StreamProtocol::try_from_owned(protocol::sync_protocol(genesis_digest))
            .map_err(|e| BuildError(e.to_string()))?;
        let codec = request_response::cbor::codec::Codec::default()
            .set_request_size_maximum(protocol::MAX_REQUEST_BYTES)
            .set_response_size_maximum(protocol::MAX_RESPONSE_BYTES);
        let sync = request_response::Behaviour::with_codec(
            codec,
            [(name, ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(Duration::from_secs(20)),
        );
        let identify = identify::Behaviour::new(identify::Config::new(
            protocol::identify_version(genesis_digest),
            key.public(),
        ));
        Ok(Behaviour {
            gossipsub,
            sync,
            identify,
        })
    }
}
