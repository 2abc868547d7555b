//! `consent`: the command line for citizens, collectors and registrars.
//!
//! Exit codes: 0 success (a deny is an answer: exit 0), 1 any failure (one line on stderr saying
//! what went wrong and what to do), 2 bad usage. A closed output pipe is not an error.

mod cmd {
    pub mod audit;
    pub mod child;
    pub mod citizen;
    pub mod consult;
    pub mod decide;
    pub mod delegated;
    pub mod delegation;
    pub mod delegations;
    pub mod draft;
    pub mod monitor;
    pub mod on_behalf;
    pub mod org;
    pub mod privacy;
    pub mod queue;
    pub mod stance;
    pub mod verify;
    pub mod wallet;
}
mod consult_words;
mod ctx;
mod delegates;
mod describe;
mod narrow;
mod outbox;
mod refusal;
mod send;
mod wider;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// consent-ledger: my data, my choice. Grant and withdraw consent, check it, run a collector or a registrar.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    global: ctx::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Your wallet: create, show your id for a collector, rotate keys, recover, keep your
    /// feeds unlinkable (privacy, prepare).
    #[command(subcommand)]
    Wallet(cmd::wallet::Wallet),
    /// Show a collector's current policy in plain words.
    Policy(cmd::citizen::PolicyArgs),
    /// Consent to a collector storing some of your data for some purposes (optionally only in
    /// some of its zones, from some sensors, at some hours, or in a more protective form).
    ///
    /// With the default privacy setting the grant is signed and queued, then sent at a random
    /// moment within 30 minutes, so that your feeds cannot be linked by when they reach the
    /// network; it is in force only once it is sent, from the next quarter hour. It is sent by
    /// the first consent command that runs after its moment: nothing sends it if none runs, so
    /// run `consent queue` from a timer (README, Privacy), or `consent queue --send-now`. To have
    /// it in force at once: `consent --now grant ...` (exact times, sent at once; its time can
    /// link this feed to your others).
    Grant(cmd::citizen::GrantArgs),
    /// Withdraw a consent (optionally asking for erasure). Sent at once, whatever the privacy
    /// setting; a grant still queued and never sent is withdrawn from the queue instead, unseen.
    Revoke(cmd::citizen::RevokeArgs),
    /// Grants in force now, those sent but in force from a later moment, and those queued.
    List,
    /// Every entry of every feed of this wallet, with collectors' answers (queued ones marked).
    History,
    /// Entries signed and waiting to be sent (so that your feeds cannot be linked by when they
    /// reach the network); sends those that are due (one feed per run, besides withdrawals), or
    /// all with --send-now; shows entries held or refused (exit 1 while there are). This is the
    /// command to run from a timer (README, Privacy).
    Queue(cmd::queue::QueueArgs),
    /// Exercise a right: access, erasure, rectification, restriction, portability, opt-out-sale.
    Request(cmd::citizen::RequestArgs),
    /// As a co-guardian (--as NAME): endorse the other guardian's grant, so that it counts.
    Endorse(cmd::on_behalf::EndorseArgs),
    /// Public consultations on collectors' new policy versions: list, show, support, object.
    #[command(subcommand)]
    Consult(cmd::consult::Consult),
    /// Everything the wallet and the ledger hold about you, as one JSON document.
    Export,
    /// Collector: create, publish policies, acknowledge requests.
    #[command(subcommand)]
    Collector(cmd::org::Collector),
    /// Registrar: create, accredit and suspend collectors.
    #[command(subcommand)]
    Registrar(cmd::org::Registrar),
    /// Ask whether a subject consents (prints allow or deny and why; exit 0 either way).
    Check(cmd::org::CheckArgs),
    /// Replay a whole node: every entry, its signed checkpoint, the witnesses, every feed head,
    /// and consistency with the previous audit (exit 1 on any finding).
    Audit(cmd::audit::AuditArgs),
    /// Check a receipt file offline: signature, checkpoint, witnesses, inclusion proofs.
    VerifyReceipt(cmd::verify::VerifyArgs),
    /// Write the node's receipt for an entry, with the proof that its signed log holds it.
    Receipt(cmd::verify::ReceiptArgs),
    /// The purposes, data categories, sensor kinds, request kinds and forms, with what each
    /// means.
    Vocab,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.global.as_person.is_some()
        && !matches!(
            cli.command,
            Command::Grant(_) | Command::Revoke(_) | Command::Request(_) | Command::Endorse(_)
        )
    {
        eprintln!(
            "consent: --as acts in someone else's name only with grant, revoke, request and endorse"
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("consent: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let g = cli.global.clone();
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Wallet(c) => cmd::wallet::run(c, &g).await,
            Command::Policy(a) => cmd::citizen::policy(a, &g).await,
            Command::Grant(a) => cmd::citizen::grant(a, &g).await,
            Command::Revoke(a) => cmd::citizen::revoke(a, &g).await,
            Command::List => cmd::citizen::list(&g).await,
            Command::History => cmd::citizen::history(&g).await,
            Command::Queue(a) => cmd::queue::queue(a, &g).await,
            Command::Request(a) => cmd::citizen::request(a, &g).await,
            Command::Endorse(a) => cmd::on_behalf::endorse(a, &g).await,
            Command::Consult(c) => cmd::consult::run(c, &g).await,
            Command::Export => cmd::citizen::export(&g).await,
            Command::Collector(c) => cmd::org::collector(c, &g).await,
            Command::Registrar(c) => cmd::org::registrar(c, &g).await,
            Command::Check(a) => cmd::org::check(a, &g).await,
            Command::Audit(a) => cmd::audit::audit(a, &g).await,
            Command::VerifyReceipt(a) => cmd::verify::verify_receipt(a, &g),
            Command::Receipt(a) => cmd::verify::receipt(a, &g).await,
            Command::Vocab => {
                cmd::citizen::vocab(&g);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("consent: {}", refusal::explain(&e));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
