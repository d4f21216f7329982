//! # gitops-image-updater
//!
//! Image automation building blocks: registry tag scanning, image policies (semver,
//! alphabetical, numerical, filters) and setter markers
//! (`# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}`) rewritten in place.
//!
//! Status: not implemented yet. It exports nothing.
