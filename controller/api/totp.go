package api

import (
	"errors"
	"net/http"

	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
)

// totpQRSize is the size in pixels of an enrolment's QR code.
const totpQRSize = 256

// totpEnrollmentView is a started enrolment: the secret, as a URL, in
// base32 and drawn as a QR code (PNG, base64 in JSON). Shown once.
type totpEnrollmentView struct {
	URL    string `json:"otpauth_url"`
	Secret string `json:"secret"`
	QRPNG  []byte `json:"qr_png"`
}

type totpCodeRequest struct {
	Code *string `json:"code"`
}

// beginTOTP: POST /api/me/totp starts the caller's TOTP enrolment.
func (s *server) beginTOTP(r *http.Request) (result, error) {
	if _, err := decodeOptionalBody[struct{}](r); err != nil {
		return result{}, err
	}
	en, err := s.auth.BeginTOTP(r.Context(), principal(r))
	if err != nil {
		return result{}, err
	}
	png, err := wgconfig.QRPNG([]byte(en.URL), totpQRSize)
	if err != nil {
		return result{}, err
	}
	return created("scan the QR code with an authenticator app, then confirm with a code",
		totpEnrollmentView{URL: en.URL, Secret: en.Secret, QRPNG: png}), nil
}

// readCode decodes a {"code"} body; the code is required.
func readCode(r *http.Request) (string, error) {
	req, err := decodeBody(r, decodeJSON[totpCodeRequest])
	if err != nil {
		return "", err
	}
	if req.Code == nil || *req.Code == "" {
		return "", badFieldf("code", "code is required")
	}
	return *req.Code, nil
}

// codeField names "code" as the field of a wrong code.
func codeField(err error) error {
	if errors.Is(err, auth.ErrWrongCode) {
		return badFieldf("code", "%s", auth.ErrWrongCode.Error())
	}
	return err
}

// confirmTOTP: POST /api/me/totp/confirm {"code"} turns the second
// factor on and answers the recovery codes, once.
func (s *server) confirmTOTP(r *http.Request) (result, error) {
	code, err := readCode(r)
	if err != nil {
		return result{}, err
	}
	codes, err := s.auth.ConfirmTOTP(r.Context(), principal(r), code, r.RemoteAddr)
	if err != nil {
		return result{}, codeField(err)
	}
	return success("second factor on; keep the recovery codes, they are shown only this once",
		map[string]any{"recovery_codes": codes}), nil
}

// disableTOTP: POST /api/me/totp/disable {"code"}, a code from the app or
// a recovery code.
func (s *server) disableTOTP(r *http.Request) (result, error) {
	code, err := readCode(r)
	if err != nil {
		return result{}, err
	}
	if err := s.auth.DisableTOTP(r.Context(), principal(r), code, r.RemoteAddr); err != nil {
		return result{}, codeField(err)
	}
	return success("second factor off", nil), nil
}

// resetTOTP: DELETE /api/users/{id}/totp, an admin turning off a user's
// second factor; the user's sessions end.
func (s *server) resetTOTP(r *http.Request) (result, error) {
	id, err := pathID(r, "user")
	if err != nil {
		return result{}, err
	}
	if err := s.auth.ResetTOTP(r.Context(), principal(r).Actor(), id); err != nil {
		return result{}, err
	}
	return success("second factor off; the user's sessions have ended", nil), nil
}
