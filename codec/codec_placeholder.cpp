namespace msinr::codec {}
