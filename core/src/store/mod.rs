//! What sessattr stores: the key layout and the record encodings, shared by
//! every embedding so all of them store byte-identical data.

pub mod layout;
pub mod record;
