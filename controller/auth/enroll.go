package auth

// GuardEnroll runs attempt, an enrollment with a join token sent by
// remoteAddr (host:port), under the same per-address limit as failed
// logins (Config.MaxAddressFailures inside Config.LoginFailureWindow): a
// join token is a credential anyone may guess at. An attempt counts as a
// failure from the moment it starts, so parallel guesses cannot slip past,
// and is forgiven when it succeeds. Over the limit, attempt is not run
// and the error is a *RateLimitError.
func (a *Authenticator) GuardEnroll(remoteAddr string, attempt func() error) error {
	now := a.now()
	key := addressKey(remoteAddr)
	if retry, ok := a.enrollLimiter.begin(key, now); !ok {
		a.log.Warn("enrollment rate limited", "remote", remoteHost(remoteAddr))
		return &RateLimitError{RetryAfter: retry, Reason: "too many failed enrollments from this address"}
	}
	if err := attempt(); err != nil {
		return err
	}
	a.enrollLimiter.cancel(key, now)
	return nil
}
