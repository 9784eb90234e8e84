//! Serde adapters that store protobuf messages inside serde records as their encoded bytes
//! (the protos have no serde of their own).

/// Serde adapter storing a protobuf message as its encoded bytes.
pub(crate) mod pb {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<M: prost::Message, S: Serializer>(m: &M, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&m.encode_to_vec())
    }

    pub fn deserialize<'de, M: prost::Message + Default, D: Deserializer<'de>>(
        d: D,
    ) -> Result<M, D::Error> {
        let b: Vec<u8> = Deserialize::deserialize(d)?;
        M::decode(b.as_slice()).map_err(D::Error::custom)
    }
}

/// Serde adapter for an optional protobuf message.
pub(crate) mod pb_opt {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<M: prost::Message, S: Serializer>(
        m: &Option<M>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match m {
            Some(m) => s.serialize_some(&serde_bytes_vec(m.encode_to_vec())),
            None => s.serialize_none(),
        }
    }

    fn serde_bytes_vec(v: Vec<u8>) -> Vec<u8> {
        v
    }

    pub fn deserialize<'de, M: prost::Message + Default, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<M>, D::Error> {
        let b: Option<Vec<u8>> = Deserialize::deserialize(d)?;
        b.map(|b| M::decode(b.as_slice()).map_err(D::Error::custom))
            .transpose()
    }
}
