"""Page URLs on another host of the Twilio Proxy family, and everything that only looks like one.

twilio-python rewrites every URL it requests to the configured edge and region
(``ClientBase.get_hostname``), page URLs included; proxy-async does the same for the
Proxy family of hosts and refuses everything else with nothing sent.
"""

from __future__ import annotations

import pytest
import yarl
from aioresponses import aioresponses
from conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SESSION_PATH,
    SESSION_SID,
    fake_client,
    list_body,
    load_fixture,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy_async import (
    InvalidParameterError,
    InvalidResponseError,
    ProxyClient,
    ProxyError,
    UnsafePageUrlError,
)
from proxy_async.client.hosts import Origin, in_proxy_family, page_url_target, parse_page_url
from proxy_async.testing import FakeProxyServer

LIST = f"{SESSION_PATH}/Interactions"
REGIONAL = "https://proxy.sydney.au1.twilio.com"
PAGE_2_QUERY = "?PageSize=2&Page=1&PageToken=PT2"


def regional_client(**options: object) -> ProxyClient:
    return ProxyClient(
        ACCOUNT_SID,
        AUTH_TOKEN,
        edge="sydney",
        region="au1",
        retry=0,
        requests_per_second=None,
        prefetch=False,
        **options,  # type: ignore[arg-type]
    )


def interactions(*sids: str) -> list[dict[str, object]]:
    record = load_fixture("sdk_interaction_fetch_response")
    return [dict(record, sid=sid) for sid in sids]


def sent_urls(mock: aioresponses) -> list[tuple[str, str, dict[str, str]]]:
    """Each request's origin, path and query (aioresponses keeps no query order)."""
    return [(str(url.origin()), url.path, dict(url.query)) for (_, url) in mock.requests]


def as_sent(url: str) -> tuple[str, str, dict[str, str]]:
    parsed = yarl.URL(url)
    return (str(parsed.origin()), parsed.path, dict(parsed.query))


@pytest.mark.parametrize(
    "page_host",
    [
        "https://proxy.twilio.com",
        "https://proxy.au1.twilio.com",
        "https://proxy.dublin.ie1.twilio.com",
        "https://PROXY.Twilio.COM",
        "https://proxy.twilio.com:443",
        REGIONAL,
    ],
)
async def test_a_regional_client_follows_page_urls_on_other_proxy_hosts_to_its_own(
    mock_http: aioresponses, page_host: str
) -> None:
    first = interactions("KI" + "1" * 32, "KI" + "2" * 32)
    second = interactions("KI" + "3" * 32)
    mock_http.get(
        f"{REGIONAL}{LIST}?PageSize=2",
        payload=list_body(first, f"{page_host}{LIST}{PAGE_2_QUERY}", f"{page_host}{LIST}"),
    )
    mock_http.get(
        f"{REGIONAL}{LIST}{PAGE_2_QUERY}",
        payload=list_body(second, None, f"{page_host}{LIST}{PAGE_2_QUERY}"),
    )
    async with regional_client() as client:
        session = client.services("KS" + "b" * 32).sessions(SESSION_SID)
        sids = [item.sid async for item in session.interactions.stream(page_size=2)]
    assert sids == ["KI" + "1" * 32, "KI" + "2" * 32, "KI" + "3" * 32]
    assert sent_urls(mock_http) == [
        as_sent(f"{REGIONAL}{LIST}?PageSize=2"),
        as_sent(f"{REGIONAL}{LIST}{PAGE_2_QUERY}"),
    ]


async def test_a_saved_start_url_on_the_global_host_resumes_on_the_regional_one(
    mock_http: aioresponses,
) -> None:
    mock_http.get(
        f"{REGIONAL}{LIST}{PAGE_2_QUERY}",
        payload=list_body(interactions("KI" + "3" * 32), None, f"{REGIONAL}{LIST}"),
    )
    async with regional_client() as client:
        session = client.services("KS" + "b" * 32).sessions(SESSION_SID)
        start = f"https://proxy.twilio.com{LIST}{PAGE_2_QUERY}"
        sids = [item.sid async for item in session.interactions.stream(start_url=start)]
    assert sids == ["KI" + "3" * 32]
    assert sent_urls(mock_http) == [as_sent(f"{REGIONAL}{LIST}{PAGE_2_QUERY}")]


LOOK_ALIKES = [
    "https://proxy.twilio.com.evil.com",
    "https://evilproxy.twilio.com",
    "https://proxy-twilio.com",
    "https://proxy.twilio.com@evil.com",
    "https://user@proxy.twilio.com",
    "https://user:pw@proxy.sydney.au1.twilio.com",
    "http://proxy.twilio.com",
    "https://proxy.twilio.com:8443",
    "https://api.twilio.com",
    "https://conversations.au1.twilio.com",
    "https://proxy.a.b.c.twilio.com",
    "https://proxy.twilio.co",
    "https://proxy..twilio.com",
    "https://proxy.-x.twilio.com",
    "ftp://proxy.twilio.com",
    # Another spelling of the host is another origin: another name to resolve and to
    # match the certificate against, so it is refused, not normalised.
    "https://proxy.twilio.com.",
    "https://proxy.sydney.au1.twilio.com.",
]


async def error_after_page_1(
    mock_http: aioresponses,
    client: ProxyClient,
    base: str,
    page_host: str,
    records: list[dict[str, object]],
) -> ProxyError:
    """Stream a list whose page 1 (at ``base``) points to page 2 on ``page_host``; the
    error the walk ends with."""
    mock_http.get(
        f"{base}{LIST}?PageSize=2",
        payload=list_body(records, f"{page_host}{LIST}{PAGE_2_QUERY}", base),
    )
    async with client:
        session = client.services("KS" + "b" * 32).sessions(SESSION_SID)
        with pytest.raises(ProxyError) as caught:
            async for _ in session.interactions.stream(page_size=2):
                pass
    return caught.value


@pytest.mark.parametrize("page_host", LOOK_ALIKES)
async def test_look_alike_page_hosts_are_refused_with_nothing_sent(
    mock_http: aioresponses, page_host: str
) -> None:
    records = interactions("KI" + "1" * 32)
    error = await error_after_page_1(mock_http, regional_client(), REGIONAL, page_host, records)
    assert isinstance(error, UnsafePageUrlError)
    assert sent_urls(mock_http) == [as_sent(f"{REGIONAL}{LIST}?PageSize=2")]  # page 1 only
    assert "pw" not in str(error)  # user info is never shown


async def test_a_custom_base_url_refuses_twilio_page_urls(mock_http: aioresponses) -> None:
    # A server that is not Twilio's handing out Twilio URLs is not what the client was
    # pointed at: nothing goes to, or is rewritten from, the Twilio host.
    local = "http://127.0.0.1:9"
    client = fake_client(local, retry=0, prefetch=False)
    error = await error_after_page_1(
        mock_http, client, local, "https://proxy.twilio.com", interactions()
    )
    assert isinstance(error, UnsafePageUrlError)
    assert len(sent_urls(mock_http)) == 1


@pytest.mark.parametrize(
    ("edge", "region"),
    [("a/b", "au1"), ("sydney", "au1.evil.com"), ("x y", None), (None, "é1"), (5, "au1")],
)
def test_edge_and_region_must_be_single_dns_labels(edge: object, region: object) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, edge=edge, region=region)  # type: ignore[arg-type]
    assert caught.value.parameter in {"edge", "region"}


def test_upper_case_edge_and_region_give_the_same_host() -> None:
    client = ProxyClient(ACCOUNT_SID, AUTH_TOKEN, edge="Sydney", region="AU1")
    assert client.base_url == REGIONAL


BASES = [REGIONAL, "https://proxy.twilio.com", "http://127.0.0.1:8080", "https://example.com"]
HOSTS = st.one_of(
    st.sampled_from(["proxy.twilio.com", "proxy.ie1.twilio.com", "127.0.0.1", "example.com"]),
    st.text(st.sampled_from("proxy.twilio.comevil-@:%1"), max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(BASES),
    scheme=st.sampled_from(["https", "http", "HTTPS", "ftp"]),
    host=HOSTS,
    port=st.sampled_from(["", ":443", ":80", ":8080", ":0443", ":1:1"]),
)
def test_a_page_url_is_only_ever_sent_to_the_configured_origin(
    base: str, scheme: str, host: str, port: str
) -> None:
    base_url = yarl.URL(base)
    parsed = parse_page_url(f"{scheme}://{host}{port}{LIST}?Page=1")
    if parsed is None:
        return
    try:
        target = page_url_target(parsed, base_url)
    except UnsafePageUrlError:
        return
    assert Origin.of(target) == Origin.of(base_url)
    assert target.raw_path == LIST
    assert target.user is None
    # A rewrite happens only between hosts of the family.
    if Origin.of(parsed) != Origin.of(base_url):
        assert in_proxy_family(Origin.of(parsed))
        assert in_proxy_family(Origin.of(base_url))


async def test_the_fake_server_builds_page_urls_from_the_host_it_was_reached_by() -> None:
    async with FakeProxyServer(sessions_per_service=1, interactions_per_session=7) as server:
        base = f"http://localhost:{server.port}"
        service = server.service_sids[0]
        session_sid = server.session_sids(service)[0]
        async with fake_client(base, retry=0) as client:
            session = client.services(service).sessions(session_sid)
            pages = [page async for page in session.interactions.pages(page_size=2)]
    assert [len(page.items) for page in pages] == [2, 2, 2, 1]
    urls = [page.meta.url for page in pages] + [p.meta.next_page_url for p in pages[:-1]]
    assert all(str(url).startswith(f"{base}/") for url in urls)
    assert [item.sid for page in pages for item in page.items] == server.interaction_sids(
        service, session_sid
    )


async def test_a_trailing_dot_host_is_not_the_same_origin(mock_http: aioresponses) -> None:
    local = "http://127.0.0.1:9"
    client = fake_client(local, retry=0, prefetch=False)
    error = await error_after_page_1(
        mock_http, client, local, "http://127.0.0.1.:9", interactions()
    )
    assert isinstance(error, UnsafePageUrlError)
    assert "127.0.0.1.:9" in str(error)
    assert sent_urls(mock_http) == [as_sent(f"{local}{LIST}?PageSize=2")]  # nothing else


async def test_a_page_url_whose_host_is_not_valid_idna_is_a_typed_server_error(
    mock_http: aioresponses,
) -> None:
    for page_host in ("https://proxy.xn--zz.twilio.com", "https://xn--zz.com"):
        error = await error_after_page_1(
            mock_http, regional_client(), REGIONAL, page_host, interactions()
        )
        assert isinstance(error, InvalidResponseError | UnsafePageUrlError)
    # The first page, once per client; never the bad URL.
    assert sent_urls(mock_http) == [as_sent(f"{REGIONAL}{LIST}?PageSize=2")]
    assert sum(len(calls) for calls in mock_http.requests.values()) == 2
    assert parse_page_url(f"https://xn--zz.com{LIST}") is None


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"region": "xn--zz"}, "region"),
        ({"edge": "xn--zz"}, "edge"),
        ({"edge": "sydney", "region": "XN--ZZ"}, "region"),
        ({"base_url": "https://xn--zz.com"}, "base_url"),
        ({"base_url": "http://proxy.xn--a.example:8080"}, "base_url"),
    ],
)
def test_hosts_yarl_cannot_idna_decode_are_invalid_parameters(
    options: dict[str, str], parameter: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, **options)  # type: ignore[arg-type]
    assert caught.value.parameter == parameter


def test_twilio_region_from_the_environment_that_is_not_idna_is_typed() -> None:
    environ = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_REGION": "xn--zz",
    }
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient.from_env(environ)
    assert caught.value.parameter == "TWILIO_REGION"
    # A valid IDNA label is still a label: only the undecodable ones are refused.
    assert ProxyClient(ACCOUNT_SID, AUTH_TOKEN, region="xn--bcher-kva").base_url == (
        "https://proxy.xn--bcher-kva.twilio.com"
    )


def test_base_url_errors_never_echo_user_info_or_a_query() -> None:
    for base_url in ("https://u:s3cret-value@xn--zz.com", "http://u:s3cret-value@a:1:1"):
        with pytest.raises(InvalidParameterError) as caught:
            ProxyClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base_url)
        assert caught.value.parameter == "base_url"
        assert "s3cret-value" not in f"{caught.value} {caught.value!r}"
