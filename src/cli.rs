//! The command line: one binary, a subcommand per role. Every flag is also an environment
//! variable (see `--help`).

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};
use facefix_api::backlog::BacklogArgs;
use facefix_api::keys::ApiKeyArgs;
use facefix_api::security::CorsArgs;
use facefix_api::upload::flow::UploadFlowArgs;
use facefix_shared::config::{
    BlobArgs, ListenArgs, QueueArgs, RetentionArgs, StoreArgs, TelemetryArgs,
};
use facefix_shared::intake::{ImageLimits, UploadLimits};
use facefix_shared::job::MAX_UPSCALE;
use facefix_shared::webhook::WebhookArgs;
use facefix_worker::WorkerArgs;
use facefix_worker::pipeline::ModelArgs;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "facefix",
    version,
    about = "Self-hosted face restoration: upload a photo, get its faces restored, everything deleted after 15 minutes."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything in one process: API + web page, worker and sweeper. With no service URLs
    /// it needs nothing else (embedded mode).
    Serve(Box<ServeArgs>),
    /// The HTTP API and web page alone (needs the queue, store and blob URLs).
    Api(ApiRoleArgs),
    /// A queue worker alone (needs the queue, store and blob URLs).
    Worker(WorkerRoleArgs),
    /// The retention sweeper alone (needs the store and blob URLs).
    Sweeper(SweeperRoleArgs),
    /// Restore the faces of one image file, offline.
    Restore(RestoreArgs),
}

/// The three ports.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub queue: QueueArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub blob: BlobArgs,
}

/// The API's settings, the same in `serve` and `api`.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub limits: UploadLimits,
    #[command(flatten)]
    pub uploads: UploadFlowArgs,
    #[command(flatten)]
    pub backlog: BacklogArgs,
    #[command(flatten)]
    pub cors: CorsArgs,
    #[command(flatten)]
    pub metrics: MetricsListenArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub keys: ApiKeyArgs,
}

/// Where the API serves `/metrics`: a port of its own, so that the public one (uploads,
/// the web page) never shows it.
#[derive(Debug, Clone, Args)]
pub struct MetricsListenArgs {
    /// Address of the API's `/metrics` (with `/healthz` and `/readyz` beside it), off the
    /// public port; port 0 picks one (it is logged), `off` serves no metrics.
    #[arg(long, env = "FACEFIX_METRICS_LISTEN", default_value = "127.0.0.1:9464", value_parser = parse_metrics_listen)]
    pub metrics_listen: MetricsListen,
}

/// The API's metrics address, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    Off,
    At(SocketAddr),
}

fn parse_metrics_listen(value: &str) -> Result<MetricsListen, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(MetricsListen::Off);
    }
    value
        .parse()
        .map(MetricsListen::At)
        .map_err(|_| format!("{value:?} is neither an address like 127.0.0.1:9464 nor `off`"))
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Run the API and the sweeper only: jobs wait in the queue for workers in other
    /// processes (`facefix worker`). With the embedded queue nothing takes them, so they stay
    /// queued until they expire; that shows the web page's waiting screen.
    #[arg(long, env = "FACEFIX_NO_WORKER", value_parser = BoolishValueParser::new())]
    pub no_worker: bool,
    #[command(flatten)]
    pub models: ProcessorArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Which image processor the worker runs.
#[derive(Debug, Clone, Args)]
pub struct ProcessorArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Run without face models: decode, orient, upscale and re-encode only (for trying the
    /// job system before `scripts/setup-models.sh` has run).
    #[arg(long, env = "FACEFIX_NO_MODELS", value_parser = BoolishValueParser::new())]
    pub no_models: bool,
}

#[derive(Debug, Args)]
pub struct ApiRoleArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Directory holding the model manifest, to list and check model names. Unset: looked
    /// up like the worker does; without one, any model name is passed on to the workers.
    #[arg(long, env = "FACEFIX_MODELS_DIR")]
    pub models_dir: Option<std::path::PathBuf>,
    /// Largest image (width × height) accepted with `bg_upsampler`: set it to the
    /// workers' `--bg-upsampler-max-pixels` (same variable), so the API refuses up front
    /// what the workers would refuse. Unset: the CPU default.
    #[arg(long, env = "FACEFIX_BG_UPSAMPLER_MAX_PIXELS", default_value_t = facefix_shared::models::BG_UPSAMPLER_CPU_MAX_PIXELS)]
    pub bg_upsampler_max_pixels: u64,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Where a worker serves `/healthz`, `/readyz` and `/metrics`.
#[derive(Debug, Clone, Args)]
pub struct WorkerListenArgs {
    /// Address of the worker's health and metrics endpoints.
    #[arg(long, env = "FACEFIX_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct WorkerRoleArgs {
    #[command(flatten)]
    pub listen: WorkerListenArgs,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub models: ProcessorArgs,
    #[command(flatten)]
    pub limits: UploadLimits,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Where a sweeper serves `/healthz`, `/readyz` and `/metrics`.
#[derive(Debug, Clone, Args)]
pub struct SweeperListenArgs {
    /// Address of the sweeper's health and metrics endpoints.
    #[arg(long, env = "FACEFIX_LISTEN", default_value = "127.0.0.1:9091")]
    pub listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct SweeperRoleArgs {
    #[command(flatten)]
    pub listen: SweeperListenArgs,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// `facefix restore INPUT OUTPUT`: the offline CLI (the model flags included: do not
/// flatten `ModelArgs` again next to it).
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Input image (JPEG, PNG or WebP; the type is read from the bytes).
    pub input: PathBuf,
    /// Output image; the format follows the extension (.png, .jpg/.jpeg, .webp).
    pub output: PathBuf,
    /// Output scale of the whole image.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_UPSCALE)))]
    pub upscale: u8,
    /// The input is an aligned face: resize it to the model size and restore it (no
    /// detection, no paste-back; the output is the restored face).
    #[arg(long)]
    pub aligned: bool,
    /// Restore only the face nearest the image centre.
    #[arg(long)]
    pub only_center_face: bool,
    /// Fidelity weight for models that take one (0 = quality, 1 = fidelity; default 0.5).
    #[arg(long, value_parser = parse_fidelity)]
    pub fidelity: Option<f32>,
    /// Enlarge the background with a network instead of Lanczos: `none` or `realesrgan`
    /// (in tiles; slow on CPU, see --tile and --bg-upsampler-max-pixels).
    #[arg(long, default_value = "none", value_name = "NAME")]
    pub bg_upsampler: String,
    /// Write metadata (faces, transforms, stage timings) as JSON here.
    #[arg(long, value_name = "META.json")]
    pub json: Option<PathBuf>,
    /// JPEG / WebP quality.
    #[arg(long, default_value_t = 95, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
    #[command(flatten)]
    pub limits: ImageLimits,
    /// Benchmark: after one warm-up run, run N more times and print the median and
    /// minimum of each stage.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub bench: usize,
    #[command(flatten)]
    pub model: ModelArgs,
}

fn parse_fidelity(v: &str) -> Result<f32, String> {
    let f: f32 = v.parse().map_err(|_| format!("not a number: {v:?}"))?;
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err("fidelity must be between 0 and 1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_has_help_and_an_env_var() {
        let cli = Cli::command();
        for sub in cli.get_subcommands().filter(|s| s.get_name() != "restore") {
            for arg in sub.get_arguments().filter(|a| a.get_long().is_some()) {
                let name = arg.get_id().as_str();
                if name == "help" || name == "version" {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "{} --{name} has no help",
                    sub.get_name()
                );
                assert!(
                    arg.get_env().is_some(),
                    "{} --{name} has no env var",
                    sub.get_name()
                );
            }
        }
    }

    #[test]
    fn the_metrics_address_is_an_address_or_off() {
        assert_eq!(parse_metrics_listen("off"), Ok(MetricsListen::Off));
        assert_eq!(
            parse_metrics_listen("0.0.0.0:9464"),
            Ok(MetricsListen::At("0.0.0.0:9464".parse().expect("addr")))
        );
        assert!(parse_metrics_listen("9464").is_err());
        let cli = Cli::try_parse_from(["facefix", "api"]).expect("defaults");
        let Command::Api(api) = cli.command else {
            panic!("api");
        };
        assert_eq!(
            api.api.metrics.metrics_listen,
            MetricsListen::At("127.0.0.1:9464".parse().expect("addr")),
            "private by default"
        );
    }

    /// Every on/off flag takes what people type in an environment variable
    /// (`FACEFIX_NO_MODELS=1`), not only `true`/`false`.
    #[test]
    fn boolean_flags_accept_the_usual_spellings() {
        let cli = Cli::command();
        let mut checked = 0;
        let mut commands = vec![&cli];
        while let Some(command) = commands.pop() {
            commands.extend(command.get_subcommands());
            let flags = command
                .get_arguments()
                .filter(|a| matches!(a.get_action(), clap::ArgAction::SetTrue))
                .filter(|a| a.get_env().is_some());
            for arg in flags {
                // The flag's own value parser, given the value on the command line instead
                // of through the environment (the same parser reads both).
                let id = arg.get_id().as_str();
                let probe = clap::Command::new("probe")
                    .arg(arg.clone().action(clap::ArgAction::Set).env(None::<&str>));
                for (typed, expected) in [
                    ("1", true),
                    ("true", true),
                    ("yes", true),
                    ("on", true),
                    ("0", false),
                    ("false", false),
                    ("no", false),
                    ("off", false),
                ] {
                    let long = format!("--{}", arg.get_long().unwrap_or(id));
                    let matches = probe
                        .clone()
                        .try_get_matches_from(["probe", long.as_str(), typed])
                        .unwrap_or_else(|e| panic!("{long} refuses {typed:?}: {e}"));
                    assert_eq!(
                        matches.get_one::<bool>(id),
                        Some(&expected),
                        "{long} = {typed:?}"
                    );
                }
                checked += 1;
            }
        }
        // --no-worker, --no-models, --s3-path-style, --s3-create-bucket, --cuda-nhwc, ...
        assert!(checked >= 5, "only {checked} flags checked");
    }
}
