//! Holds the criterion benches in `benches/`; see README.md there.
