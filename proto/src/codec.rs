//! The gRPC codec the generated services use: prost encoding, but a message that does not decode
//! is the caller's fault and answers INVALID_ARGUMENT (prost's default codec says INTERNAL). The
//! requests that submit entries (`SubmitRequest`, `SubmitBatchRequest`) are also refused when a
//! `SignedEntry` in them holds a field it does not have ([`crate::envelope`]): INVALID_ARGUMENT,
//! reason `unknown-field`.

use std::any::TypeId;
use std::marker::PhantomData;

use prost::Message;
use prost::bytes::Buf;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::ProstEncoder;

use crate::pb;

/// Prost codec with INVALID_ARGUMENT for undecodable messages.
#[derive(Debug, Clone)]
pub struct StrictCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for StrictCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for StrictCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(PhantomData)
    }
}

/// Decodes `U`, answering INVALID_ARGUMENT for bytes that are not a `U`.
#[derive(Debug, Clone)]
pub struct StrictDecoder<U>(PhantomData<U>);

impl<U: Message + Default + 'static> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let Some(field) = entries_field::<U>() else {
            return U::decode(buf).map(Some).map_err(undecodable);
        };
        let bytes = buf.copy_to_bytes(buf.remaining());
        let message = U::decode(bytes.clone()).map_err(undecodable)?;
        crate::envelope::check_entries_in(&bytes, field).map_err(|(index, rejection)| {
            let at = if TypeId::of::<U>() == TypeId::of::<pb::SubmitBatchRequest>() {
                format!("entry {index}: ")
            } else {
                String::new()
            };
            crate::reasons::status(
                Code::InvalidArgument,
                crate::reasons::reason(&rejection),
                format!("{at}entry rejected ({}): {rejection}", rejection.code()),
            )
        })?;
        Ok(Some(message))
    }
}

/// The field of a request type that holds `SignedEntry`s, for the requests that submit entries.
fn entries_field<U: 'static>() -> Option<u64> {
    let t = TypeId::of::<U>();
    (t == TypeId::of::<pb::SubmitRequest>() || t == TypeId::of::<pb::SubmitBatchRequest>())
        .then_some(1)
}

fn undecodable(e: prost::DecodeError) -> Status {
    Status::invalid_argument(format!(
        "message is not valid protobuf for this method: {e}"
    ))
}
