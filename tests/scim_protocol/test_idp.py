import pytest

from scim_protocol.idp import ENTRA, OKTA, OTHER, identify


@pytest.mark.parametrize(
    ("user_agent", "hints", "expected"),
    [
        ("Okta SCIM Client 1.0.0", "", OKTA),
        ("Okta/2023.05.1 (SCIM 2.0)", "", OKTA),
        ("Microsoft.AAD.Provisioning", "", ENTRA),
        ("Azure AD SCIM Provisioning", "", ENTRA),
        ("", "aadOptscim062020", ENTRA),
        ("python-requests/2.32", "", OTHER),
        ("JumpCloud SCIM", "", OTHER),
        ("", "", OTHER),
    ],
)
def test_identify(user_agent: str, hints: str, expected: str) -> None:
    assert identify(user_agent, hints) == expected
