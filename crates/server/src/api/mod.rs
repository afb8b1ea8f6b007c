//! The API's wire types: the JSON a client sends and the JSON it reads back, defined once so
//! that the server's handlers (which serialise them) and the clients in this workspace (the
//! `healthcode gate` device, which deserialises them) agree by construction. The shapes are
//! the contract that README.md and docs/VENUES.md document; store rows convert into them at
//! the edge, so a change to a table is not a change to the API.
//!
//! The entry policy and the colour travel as the domain's own types: the offline gate runs
//! the domain's rule ([`healthcode_domain::EntryPolicy::decide`]) on exactly what it fetched.
//!
//! What this module does not own: what the handlers do with a request (`routes`), and the
//! checks on each field a client sends (the handlers parse them).

pub mod gate;
pub mod venues;
