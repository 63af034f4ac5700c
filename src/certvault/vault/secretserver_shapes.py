"""Secrets and folders in Delinea Secret Server's JSON shapes (integrations.md §4), for the compatible API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from certvault.vault.fieldstore import FieldValue
from certvault.vault.models import CheckOut, Folder, Secret, SecretField
from certvault.vault.templates import TEMPLATE_IDS, TEMPLATE_LABELS

FILE_PLACEHOLDER = "*** Not Valid For Display ***"


def stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else "0001-01-01T00:00:00"


def secret_summary(now: datetime, secret: Secret, folder: Folder, checkout: CheckOut | None) -> dict[str, Any]:
    minutes_left = 0
    if checkout is not None:
        minutes_left = max(0, int((checkout.expires_at - now).total_seconds() // 60))
    return {
        "id": secret.number, "name": secret.name, "secretTemplateId": TEMPLATE_IDS[secret.template],
        "secretTemplateName": TEMPLATE_LABELS[secret.template], "folderId": folder.number,
        "folderPath": "\\" + folder.path.replace("/", "\\"), "siteId": 1, "active": secret.active,
        "isRestricted": secret.require_approval or secret.checkout_enabled or secret.double_lock,
        "isOutOfSync": False, "checkOutEnabled": secret.checkout_enabled, "checkedOut": checkout is not None,
        "checkOutMinutesRemaining": minutes_left,
        "checkOutIntervalMinutes": secret.checkout_minutes if secret.checkout_enabled else -1,
        "checkOutUserId": -1, "checkOutUserDisplayName": checkout.username if checkout else "",
        "requiresApprovalForAccess": secret.require_approval, "requiresApproval": secret.require_approval,
        "requiresComment": False, "isDoubleLock": secret.double_lock, "doubleLockEnabled": secret.double_lock,
        "doubleLockId": 1 if secret.double_lock else -1, "hidePassword": secret.hide_password,
        "accessRequestWorkflowMapId": -1, "autoChangeEnabled": False, "lastHeartBeatStatus": "Pending",
        "lastHeartBeatCheck": stamp(secret.updated_at), "lastPasswordChangeAttempt": stamp(secret.rotated_at),
        "createDate": stamp(secret.created_at), "responseCodes": [],
    }


def field_item(index: int, field: SecretField | FieldValue, value: FieldValue | None) -> dict[str, Any]:
    is_file = field.is_file
    item_value = FILE_PLACEHOLDER if is_file else (value.text if value is not None else "")
    return {
        "itemId": index + 1, "fieldId": index + 1, "fieldName": field.name, "slug": field.slug,
        "fieldDescription": "", "itemValue": item_value, "isPassword": field.is_secret and not is_file,
        "isFile": is_file, "isNotes": field.slug == "notes", "fileAttachmentId": index + 1 if is_file else None,
        "filename": field.filename if is_file else None,
    }


def folder_item(folder: Folder, parent_number: int) -> dict[str, Any]:
    return {"id": folder.number, "folderName": folder.name, "folderPath": "\\" + folder.path.replace("/", "\\"),
            "parentFolderId": parent_number, "folderTypeId": 1, "secretPolicyId": -1,
            "inheritPermissions": folder.inherit_permissions, "inheritSecretPolicy": False, "childFolders": None,
            "secretTemplates": None}
