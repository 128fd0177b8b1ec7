package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"

	"github.com/trigpointing/valkey-chaos/result"
)

// Retry defaults: ECS's API rate limits are per account and region and
// shared with every other caller, so throttling is retried patiently.
const (
	defaultRetryMaxAttempts = 10
	defaultRetryMaxBackoff  = 20 * time.Second
)

// LoadAWSConfig resolves credentials and region through the SDK's default
// chain (environment, shared config and profile, SSO, instance or task
// role; AWS_ENDPOINT_URL overrides the endpoint) with a retryer that backs
// off on throttling, and checks that credentials can actually be had, so a
// missing login fails here in one line rather than at the first fault. Only
// Region, Profile, RetryMaxAttempts and RetryMaxBackoff of cfg are used.
func LoadAWSConfig(ctx context.Context, cfg Config) (aws.Config, error) {
	attempts, backoff := cfg.RetryMaxAttempts, cfg.RetryMaxBackoff
	if attempts <= 0 {
		attempts = defaultRetryMaxAttempts
	}
	if backoff <= 0 {
		backoff = defaultRetryMaxBackoff
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = backoff
				// The client-side retry quota would give up on a long
				// throttling episode; the attempt limit bounds it instead.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%w: load AWS configuration (%s): check --profile and ~/.aws/config", result.ErrBadInput, oneLine(err.Error()))
	}
	if awsCfg.Region == "" {
		return aws.Config{}, fmt.Errorf("%w: no AWS region: pass --region or set AWS_REGION", result.ErrBadInput)
	}
	if awsCfg.Credentials == nil {
		return aws.Config{}, fmt.Errorf("%w: no AWS credentials: %s", result.ErrBadInput, credentialsFix)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := awsCfg.Credentials.Retrieve(cctx); err != nil {
		if ctx.Err() != nil {
			return aws.Config{}, ctx.Err()
		}
		return aws.Config{}, fmt.Errorf("%w: no usable AWS credentials (%s): %s", result.ErrBadInput, oneLine(err.Error()), credentialsFix)
	}
	return awsCfg, nil
}

const credentialsFix = "set AWS_PROFILE or pass --profile (after 'aws sso login' if it uses SSO), export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached (the bastion's instance profile, the scheduled task's task role)"

// explain turns an AWS error into one line saying what failed and what to
// do about it. action is the IAM action, e.g. "ecs:StopTask".
func (t *Target) explain(action string, err error) error {
	return explainAWS(action, t.cfg, err)
}

func explainAWS(action string, cfg Config, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("%s: %s", action, oneLine(err.Error()))
	}
	code, msg := apiErr.ErrorCode(), oneLine(apiErr.ErrorMessage())
	switch code {
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnauthorizedException", "AuthorizationError":
		return fmt.Errorf("%w: access denied for %s (%s): grant %s to the harness's role; docs/ecs.md lists every permission it needs", result.ErrBadInput, action, msg, action)
	case "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException", "SignatureDoesNotMatch":
		return fmt.Errorf("%w: AWS rejected the credentials on %s (%s: %s): refresh them (aws sso login, a new session) or check --profile and --region", result.ErrBadInput, action, code, msg)
	case "ClusterNotFoundException":
		return fmt.Errorf("%w: ECS cluster %q not found in %s: check --cluster and --region", result.ErrBadInput, cfg.Cluster, regionOf(cfg))
	case "ServiceNotFoundException", "ServiceNotActiveException":
		return fmt.Errorf("%w: ECS service %q not found (or not active) in cluster %q in %s: check --service, --cluster and --region", result.ErrBadInput, cfg.Service, cfg.Cluster, regionOf(cfg))
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		attempts := cfg.RetryMaxAttempts
		if attempts <= 0 {
			attempts = defaultRetryMaxAttempts
		}
		return fmt.Errorf("%s still throttled by AWS after %d attempts with backoff (%s: %s): the account's API rate is shared; retry later or raise --poll-every", action, attempts, code, msg)
	}
	return fmt.Errorf("%s failed (%s: %s)", action, code, msg)
}

func regionOf(cfg Config) string {
	if cfg.Region != "" {
		return cfg.Region
	}
	return "the configured region"
}

// oneLine keeps messages to one line whatever the SDK put in them.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
