"""The foundation flow through boto3, against a running `tessera dev`.

Usage: python boto3_flow.py MANIFEST TRUST_POLICY_FILE
Exits non-zero (with a message) on the first failed expectation, and prints "boto3 flow ok"
as its last line only when every expectation held. Expectations are checked with `check`, not
`assert`, so that they hold under `python -O` / PYTHONOPTIMIZE as well.
"""
import json
import sys

import boto3
import botocore.exceptions
from botocore.config import Config

manifest = json.load(open(sys.argv[1]))
trust = open(sys.argv[2]).read()
root = manifest["accounts"][0]
cfg = Config(retries={"max_attempts": 1, "mode": "standard"})


class FlowFailure(Exception):
    pass


def check(condition, message=""):
    if not condition:
        raise FlowFailure(f"expectation failed: {message}")


def client(service, key_id, secret):
    return boto3.client(service, endpoint_url=manifest["endpoint"], region_name=manifest["region"],
                        aws_access_key_id=key_id, aws_secret_access_key=secret, config=cfg)


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"expected {code}, got {got}: {e}")
        return e
    raise FlowFailure(f"expected {code}, call succeeded")


iam = client("iam", root["access_key_id"], root["secret_access_key"])
sts = client("sts", root["access_key_id"], root["secret_access_key"])

ident = sts.get_caller_identity()
check(ident["Arn"] == f"arn:aws:iam::{root['account_id']}:root", ident)
check(ident["Account"] == root["account_id"], ident)

role = iam.create_role(RoleName="ApplicationRole", AssumeRolePolicyDocument=trust,
                       Description="application role", Tags=[{"Key": "team", "Value": "data"}])["Role"]
check(role["Arn"] == f"arn:aws:iam::{root['account_id']}:role/ApplicationRole", role)
# botocore decodes the URL-encoded document IAM returns into a dict.
check(role["AssumeRolePolicyDocument"] == json.loads(trust), role["AssumeRolePolicyDocument"])
expect_error("EntityAlreadyExists", iam.create_role, RoleName="applicationrole", AssumeRolePolicyDocument=trust)

policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
          "Resource": f"arn:aws:iam::{root['account_id']}:role/IdentityBearerRole"}]}
iam.put_role_policy(RoleName="ApplicationRole", PolicyName="assume-bearer", PolicyDocument=json.dumps(policy))
got = iam.get_role_policy(RoleName="ApplicationRole", PolicyName="assume-bearer")
check(got["PolicyDocument"] == policy, got)
check(iam.list_role_policies(RoleName="ApplicationRole")["PolicyNames"] == ["assume-bearer"], 'iam.list_role_policies(RoleName="ApplicationRole")["PolicyNames"] == ["assume-bearer"]')
names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
check("ApplicationRole" in names, names)

expect_error("MalformedPolicyDocument", iam.put_role_policy, RoleName="ApplicationRole", PolicyName="bad",
             PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}')
expect_error("NoSuchEntity", iam.get_role, RoleName="Missing")
expect_error("ValidationError", iam.get_role, RoleName="has space")

bad = client("sts", root["access_key_id"], "wrong" + root["secret_access_key"][5:])
expect_error("SignatureDoesNotMatch", bad.get_caller_identity)
unknown = client("sts", "AKIAUNKNOWNUNKNOWN12", root["secret_access_key"])
expect_error("InvalidClientTokenId", unknown.get_caller_identity)

iam.create_user(UserName="bob")
key = iam.create_access_key(UserName="bob")["AccessKey"]
bob_iam = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
bob_sts = client("sts", key["AccessKeyId"], key["SecretAccessKey"])
check(bob_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{root['account_id']}:user/bob", 'bob_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{root[\'account_id\']}:user/bob"')
expect_error("AccessDenied", bob_iam.list_roles)
iam.put_user_policy(UserName="bob", PolicyName="read-roles", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles"], "Resource": "*"}]}))
check(bob_iam.get_role(RoleName="ApplicationRole")["Role"]["RoleName"] == "ApplicationRole", 'bob_iam.get_role(RoleName="ApplicationRole")["Role"]["RoleName"] == "ApplicationRole"')
check(iam.list_user_policies(UserName="bob")["PolicyNames"] == ["read-roles"], 'iam.list_user_policies(UserName="bob")["PolicyNames"] == ["read-roles"]')
got = iam.get_user_policy(UserName="BOB", PolicyName="read-roles")
check(got["UserName"] == "bob" and got["PolicyDocument"]["Statement"][0]["Action"] == ["iam:GetRole", "iam:ListRoles"], got)
expect_error("NoSuchEntity", iam.get_user_policy, UserName="bob", PolicyName="nope")
expect_error("NoSuchEntity", iam.get_user_policy, UserName="nobody", PolicyName="read-roles")
expect_error("LimitExceeded", iam.put_user_policy, UserName="bob", PolicyName="big", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * 2100}]}))
expect_error("DeleteConflict", iam.delete_user, UserName="bob")
expect_error("AccessDenied", bob_iam.delete_role, RoleName="ApplicationRole")

arn = iam.create_open_id_connect_provider(Url="https://idp.example.com/tenant", ClientIDList=["app-1"],
                                          ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
check(arn == f"arn:aws:iam::{root['account_id']}:oidc-provider/idp.example.com/tenant", arn)
got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
check(got["Url"] == "idp.example.com/tenant" and got["ClientIDList"] == ["app-1"], got)
iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
expect_error("NoSuchEntity", iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)
iam.delete_role_policy(RoleName="ApplicationRole", PolicyName="assume-bearer")
check(iam.list_role_policies(RoleName="ApplicationRole")["PolicyNames"] == [], 'iam.list_role_policies(RoleName="ApplicationRole")["PolicyNames"] == []')
expect_error("NoSuchEntity", iam.delete_role_policy, RoleName="ApplicationRole", PolicyName="assume-bearer")
iam.delete_user_policy(UserName="bob", PolicyName="read-roles")
expect_error("AccessDenied", bob_iam.get_role, RoleName="ApplicationRole")
iam.delete_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"])
iam.delete_user(UserName="bob")
iam.delete_role(RoleName="ApplicationRole")
print("boto3 flow ok")
