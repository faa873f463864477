//! stub: map printing (being written)
