//! Fetches a Git branch and writes its artifact: `git_artifact <url> <branch> <out.tar.gz>`.
//! Used by `bench/git_10k.sh`; prints the revision and the artifact digest.

use gitops_source::git::{ArchiveOptions, FetchOptions, FetchOutcome, GitReference, fetch};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, branch, out] = args.as_slice() else {
        return Err("usage: git_artifact <url> <branch> <out.tar.gz>".into());
    };
    let work = tempfile::tempdir()?;
    let opts = FetchOptions::new(url.as_str(), GitReference::Branch(branch.clone()));
    let FetchOutcome::Fetched(repo) = fetch(&opts, &work.path().join("repo"), None)? else {
        return Err("nothing fetched".into());
    };
    let file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let (_, info) = repo.archive(&ArchiveOptions::default(), file)?;
    println!("{} {} {} files", repo.revision, info.digest, info.files);
    Ok(())
}
